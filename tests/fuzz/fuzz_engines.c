/* lib/engines_file.c: the cuDNN engines file (cudnn-engines.txt). What is
 * accepted is written again (sg_engines_format) and must read back to the
 * same header and choices. */
#include "fuzz.h"
#include "engines_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size, 0);
    sg_engines_header h, h2;
    sg_engine_choice *c = NULL, *c2 = NULL;
    int n = 0, n2 = 0;
    sg_err err = {{0}};
    int rc = fuzz_verdict(sg_engines_parse(text, size, "fuzz.txt", &h, &c, &n, &err), &err);
    free(text);
    if (rc) {
        FUZZ_CHECK(c == NULL && n == 0, "a failed parse left %d choices", n);
        return 0;
    }
    size_t len;
    char *out = sg_engines_format(&h, c, n, &len, &err);
    FUZZ_CHECK(out != NULL, "an accepted file is not written: %s", err.msg);
    rc = sg_engines_parse(out, len, "again.txt", &h2, &c2, &n2, &err);
    FUZZ_CHECK(rc == 0, "the file written does not read back: %s", err.msg);
    FUZZ_CHECK(sg_engines_header_equal(&h, &h2), "the header read back differs");
    FUZZ_CHECK(n2 == n, "%d choices read back as %d", n, n2);
    for (int i = 0; i < n; i++) FUZZ_CHECK(!memcmp(&c[i], &c2[i], sizeof c[i]), "choice %d read back otherwise", i);
    free(out);
    free(c);
    free(c2);
    return 0;
}

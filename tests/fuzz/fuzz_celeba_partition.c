/* lib/celeba_attrs.c: a partition file (list_eval_partition.txt, or
 * Kaggle's .csv) for an attribute list of the images 000001.jpg to
 * 000004.jpg. What is accepted gives every row 0, 1 or 2. */
#include "fuzz.h"
#include "celeba_attrs.h"
#include "celeba_attrs_testing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sg_attr_table t;
    static int ready;
    sg_err err = {{0}};
    if (!ready) {
        static const char list[] = "4\nSmiling Young \n000001.jpg  1 -1\n000002.jpg -1  1\n000003.jpg  1  1\n"
                                   "000004.jpg -1 -1\n";
        if (sg_attr_table_parse("list.txt", list, sizeof list - 1, &t, &err)) abort();
        ready = 1;
    }
    char *text = fuzz_copy(data, size, 0);
    int8_t *part = sg_partition_parse("fuzz.txt", text, size, &t, &err);
    free(text);
    fuzz_verdict(part ? 0 : -1, &err);
    for (size_t r = 0; part && r < t.n_rows; r++) FUZZ_CHECK(part[r] >= 0 && part[r] <= 2, "row %zu: %d", r, part[r]);
    free(part);
    return 0;
}

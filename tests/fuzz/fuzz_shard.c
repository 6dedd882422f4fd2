/* lib/shard.c: what a shard reader decodes from the bytes LMDB hands it
 * (LMDB's own pages are not fuzzed: it trusts them, and this project does
 * not control them). The input is the metadata record's JSON text, a NUL,
 * then one record's value: the text is parsed as sg_shard_open parses it,
 * and the record decoded as sg_shard_read decodes it against that metadata
 * (or, when the text is refused, against a fixed metadata of 4x4 pixels,
 * 5 labels, the record's own pixel encoding, so that records are fuzzed
 * whatever the text). */
#include "fuzz.h"
#include "shard.h"
#include "shard_testing.h"

#define PIXELS_MAX (4u << 20)   /* larger images are decoded without a pixel buffer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t text_len = nul ? (size_t)(nul - data) : size;
    char *text = fuzz_copy(data, text_len, 0);
    sg_shard_meta m, fixed;
    sg_err err = {{0}};
    const sg_shard_meta *use = &m;
    int parsed = fuzz_verdict(sg_shard_meta_parse("fuzz.lmdb", text, text_len, &m, &err), &err) == 0;
    free(text);
    if (parsed) {
        FUZZ_CHECK(m.n_labels >= 1 && m.n_labels <= SG_SHARD_MAX_LABELS, "%u labels", m.n_labels);
        for (uint32_t i = 0; i < m.n_labels; i++) FUZZ_CHECK(m.label_names[i] != NULL, "label %u", i);
        FUZZ_CHECK(m.count <= SG_SHARD_MAX_RECORDS, "count %llu", (unsigned long long)m.count);
        FUZZ_CHECK(m.pixel_encoding >= SG_PIXELS_RAW && m.pixel_encoding <= SG_PIXELS_JPEG, "encoding %d",
                   m.pixel_encoding);
    }
    if (!nul) {
        if (parsed) sg_shard_meta_free(&m);
        return 0;
    }
    const uint8_t *rec = nul + 1;
    size_t rec_len = size - text_len - 1;
    if (!parsed) {
        static char *names[5] = {"Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"};
        memset(&fixed, 0, sizeof fixed);
        fixed.version = 1;
        fixed.width = fixed.height = 4;
        fixed.channels = 3;
        fixed.pixel_encoding = rec_len > 8 && rec[8] <= SG_PIXELS_JPEG ? rec[8] : SG_PIXELS_RAW;
        fixed.label_kind = SG_LABELS_MULTI_HOT;
        fixed.n_labels = 5;
        memcpy(fixed.label_names, names, sizeof names);
        fixed.count = 1;
        use = &fixed;
    }
    uint8_t *v = (uint8_t *)fuzz_copy(rec, rec_len, 0);
    size_t want = (size_t)use->width * use->height * 3;
    uint8_t *pixels = want <= PIXELS_MAX ? malloc(want ? want : 1) : NULL;
    float labels[SG_SHARD_MAX_LABELS];
    char name[64];
    int rc = fuzz_verdict(sg_shard_record_decode(use, "fuzz.lmdb", 0, v, rec_len, pixels, labels, name, sizeof name,
                                                 &err), &err);
    if (rc == 0)
        for (uint32_t i = 0; i < use->n_labels; i++)
            FUZZ_CHECK(labels[i] == 0 || labels[i] == 1, "label %u is %g", i, labels[i]);
    free(pixels);
    free(v);
    if (parsed) sg_shard_meta_free(&m);
    return 0;
}

/* lib/safetensors.c: the header a safetensors file holds, as sg_st_open
 * hands it to sg_st_parse_header. The input is the data buffer's length (8
 * bytes, little-endian) then the header's JSON text (tests/fuzz/seeds makes
 * them from tests/golden's checkpoints). What is accepted must keep the
 * header's promises: tensors in file order, inside the data, of their size. */
#include "fuzz.h"
#include "safetensors.h"
#include "safetensors_testing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t data_len = 0;
    for (int k = 7; k >= 0; k--) data_len = data_len << 8 | data[k];
    char *hdr = fuzz_copy(data + 8, size - 8, 0);
    sg_st_file *f = calloc(1, sizeof *f);
    if (!f) abort();
    sg_err err = {{0}};
    if (fuzz_verdict(sg_st_parse_header(f, "fuzz.safetensors", hdr, size - 8, data_len, &err), &err)) {
        free(f);   /* as sg_st_open does: a failed parse leaves nothing in f */
        free(hdr);
        return 0;
    }
    f->fd = -1;
    uint64_t prev_end = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const sg_st_tensor *t = &f->tensors[i];
        FUZZ_CHECK(t->name != NULL, "tensor %zu has no name", i);
        FUZZ_CHECK(t->dtype == SG_ST_F32 || t->dtype == SG_ST_I64, "tensor %zu dtype %d", i, t->dtype);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= SG_ST_MAX_DIMS, "tensor %zu ndim %d", i, t->ndim);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0, "tensor %zu dim %d is %lld", i, d, (long long)t->shape[d]);
            numel *= (uint64_t)t->shape[d];
        }
        FUZZ_CHECK(numel == t->numel, "tensor %zu numel %llu, shape says %llu", i, (unsigned long long)t->numel,
                   (unsigned long long)numel);
        FUZZ_CHECK(t->begin <= t->end && t->end <= data_len, "tensor %zu at %llu..%llu of %llu", i,
                   (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_len);
        FUZZ_CHECK(t->end - t->begin == t->numel * sg_st_dtype_size(t->dtype), "tensor %zu size", i);
        FUZZ_CHECK(t->begin == prev_end, "tensor %zu leaves a gap or overlaps", i);
        prev_end = t->end;
        FUZZ_CHECK(sg_st_find(f, t->name) == (long)i, "tensor %zu not found by name", i);
    }
    FUZZ_CHECK(prev_end == data_len, "the tensors cover %llu of %llu bytes", (unsigned long long)prev_end,
               (unsigned long long)data_len);
    for (size_t i = 0; i < f->n_meta; i++)
        FUZZ_CHECK(sg_st_meta(f, f->meta_keys[i]) != NULL, "metadata %zu not found by key", i);
    sg_st_close(f);
    free(hdr);
    return 0;
}

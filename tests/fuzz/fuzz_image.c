/* lib/image_decode.c: PNG and JPEG decoding (sg_image_decode), the header
 * probe, the EXIF orientation and its transform, the JPEG table check, the
 * comment finder, and the reference's preprocessing (sg_preprocess, which
 * decodes JPEGs through its own path: rows skipped, decoding stopped early).
 * A decode and the probe agree on the size; the preprocessing accepts what
 * the decoder accepts. */
#include "fuzz.h"
#include "image.h"
#include "image_decode_testing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = (uint8_t *)fuzz_copy(data, size, 0);
    sg_err err = {{0}}, perr = {{0}};
    sg_image img;
    int w = 0, h = 0;
    int probed = fuzz_verdict(sg_image_probe(in, size, &w, &h, &perr), &perr) == 0;
    int decoded = fuzz_verdict(sg_image_decode(in, size, &img, &err), &err) == 0;
    if (decoded) {
        FUZZ_CHECK(probed, "decoded %dx%d, but the probe refuses it: %s", img.width, img.height, perr.msg);
        FUZZ_CHECK(w == img.width && h == img.height, "decoded %dx%d, probed %dx%d", img.width, img.height, w, h);
        FUZZ_CHECK(img.width >= 1 && img.height >= 1 && img.width <= SG_IMAGE_MAX_SIDE &&
                   img.height <= SG_IMAGE_MAX_SIDE, "decoded %dx%d", img.width, img.height);
        int o = sg_image_exif_orientation(in, size);
        FUZZ_CHECK(o >= 1 && o <= 8, "orientation %d", o);
        int ow = img.width, oh = img.height;
        if (fuzz_verdict(sg_image_orient(&img, o, &err), &err) == 0) {
            int swap = o >= 5;
            FUZZ_CHECK(img.width == (swap ? oh : ow) && img.height == (swap ? ow : oh), "oriented %d: %dx%d from %dx%d",
                       o, img.width, img.height, ow, oh);
        }
        sg_image_free(&img);
    } else {
        (void)sg_image_exif_orientation(in, size);
        (void)sg_image_unsupported(&err);
    }
    (void)sg_jpeg_defines_its_tables(in, size);
    (void)sg_image_has_comment(in, size, SG_IMAGE_GRID_COMMENT);
    /* the reference's CelebA preprocessing, small: crop 16, out 8 */
    static sg_preprocessor pp;
    static int ready;
    if (!ready) {
        sg_preprocessor_init(&pp, 16, 16, 8, 8);
        ready = 1;
    }
    uint8_t out[8 * 8 * 3];
    int prc = fuzz_verdict(sg_preprocess(&pp, in, size, out, &perr), &perr);
    FUZZ_CHECK(!decoded || prc == 0, "decoded, but the preprocessing refuses it: %s", perr.msg);
    free(in);
    return 0;
}

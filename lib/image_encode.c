#include "image.h"
#include "fileio.h"
#include "png_stream.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

void sg_image_free(sg_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

/* Through the row-by-row writer (lib/png_stream.h), so that its bytes and
 * these are one and the same. */
int sg_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len, sg_err *err)
{
    *out = NULL;
    *out_len = 0;
    sg_png_writer *w;
    if (sg_png_writer_begin(&w, width, height, err)) return -1;
    if (sg_png_writer_rows(w, rgb, height, err)) { sg_png_writer_free(w); return -1; }
    return sg_png_writer_end(w, out, out_len, err);
}

int sg_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_len, sg_err *err)
{
    *out = NULL;
    *out_len = 0;
    tjhandle tj = tjInitCompress();
    if (!tj) return sg_errf(err, "JPEG: cannot initialise TurboJPEG");
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int rc = tjCompress2(tj, rgb, width, 0, height, TJPF_RGB, &buf, &len, TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
    if (rc != 0) {
        sg_errf(err, "JPEG: %s", tjGetErrorStr2(tj));
        tjFree(buf); tjDestroy(tj);
        return -1;
    }
    tjDestroy(tj);
    /* Hand back malloc'd memory so callers free() every encoder's output alike. */
    *out = malloc(len ? len : 1);
    if (!*out) { tjFree(buf); return sg_err_oom(err, "JPEG: out of memory"); }
    memcpy(*out, buf, len);
    tjFree(buf);
    *out_len = len;
    return 0;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int sg_image_path_is_jpeg(const char *path)
{
    return ends_with_ci(path, ".jpg") || ends_with_ci(path, ".jpeg");
}

int sg_image_write_encoded(const char *path, const uint8_t *data, size_t len, sg_err *err)
{
    if (strcmp(path, "-") == 0)
        return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : sg_errno(err, "<stdout>");
    return sg_write_file_atomic(path, data, len, err);
}

int sg_image_write(const char *path, const uint8_t *rgb, int width, int height, sg_err *err)
{
    return sg_image_write_commented(path, rgb, width, height, NULL, err);
}

int sg_image_write_commented(const char *path, const uint8_t *rgb, int width, int height, const char *comment,
                             sg_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = sg_image_path_is_jpeg(path) ? sg_jpeg_encode(rgb, width, height, 95, &data, &len, err)
                                         : sg_png_encode(rgb, width, height, &data, &len, err);
    if (!rc && comment) rc = sg_image_add_comment(&data, &len, comment, err);
    if (rc) { free(data); return sg_err_prefix(err, "%s", path); }
    rc = sg_image_write_encoded(path, data, len, err);
    free(data);
    return rc;
}

/* JPEG (TurboJPEG) and PNG (libpng) decoding to RGB8, with size limits checked
 * from the header before any pixel buffer is allocated; the containers' own
 * fields (EXIF orientation, a comment) from the same segment walks. */
#include "image.h"
#include "image_decode_testing.h"
#include "fileio.h"
#include "png_messages.h"
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zlib.h>

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static int is_jpeg(const uint8_t *d, size_t n) { return n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff; }
static int is_png(const uint8_t *d, size_t n) { return n >= 8 && memcmp(d, png_signature, 8) == 0; }

/* The decoders' size limits. Sides as the header gives them (a PNG's are 32-bit,
 * a JPEG's 16-bit). sg_image_probe applies them too, from the same header
 * readers, so that it refuses what the decoders refuse for its size, with the
 * same message. */
static int check_limits(unsigned long w, unsigned long h, sg_err *err)
{
    if (w == 0 || h == 0) return sg_errf(err, "bad image size %lux%lu", w, h);
    if (w > SG_IMAGE_MAX_SIDE || h > SG_IMAGE_MAX_SIDE)
        return sg_errf(err, "image is %lux%lu; sides above %d are refused", w, h, SG_IMAGE_MAX_SIDE);
    if (w * h > (unsigned long)SG_IMAGE_MAX_PIXELS)
        return sg_errf(err, "image is %lux%lu; more than %ld pixels are refused", w, h, SG_IMAGE_MAX_PIXELS);
    return 0;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* IHDR's bit depth, colour type and methods as libpng accepts them
 * (png_check_IHDR; the PNG spec's table): grey 1/2/4/8/16, palette 1/2/4/8,
 * RGB, grey+alpha and RGBA 8/16; compression and filter method 0 (a PNG may not
 * use MNG's filter 64), interlace 0 or 1. */
static int png_ihdr_fields_valid(unsigned depth, unsigned colour, unsigned compression, unsigned filter,
                                 unsigned interlace)
{
    int depth_ok;
    switch (colour) {
    case 0: depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; break;
    case 3: depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8; break;
    case 2: case 4: case 6: depth_ok = depth == 8 || depth == 16; break;
    default: return 0;
    }
    return depth_ok && compression == 0 && filter == 0 && interlace <= 1;
}

/* A PNG's IHDR, which the PNG spec puts first: signature(8) length(4) "IHDR"(4)
 * width(4) height(4) depth colour compression filter interlace (5) CRC(4): its
 * size checked against the limits, then what libpng checks in it, in libpng's
 * order and with its words (length 13, the CRC, the fields). decode_png calls
 * this before libpng reads anything (libpng would accept another chunk before
 * IHDR, and reports a side above its limits as "Invalid IHDR data"), so probe
 * and decode refuse the same PNGs with the same message. The CRC of a later
 * chunk (IDAT) only a decode checks. */
static int png_header(const uint8_t *d, size_t n, int *w, int *h, sg_err *err)
{
    if (n >= 16 && memcmp(d + 12, "IHDR", 4) != 0) return sg_errf(err, "PNG: the first chunk is not IHDR");
    if (n < 24) return sg_errf(err, "PNG: truncated data");
    uint32_t w32 = be32(d + 16), h32 = be32(d + 20);
    if (check_limits(w32, h32, err)) return -1;
    if (be32(d + 8) != 13) return sg_errf(err, "PNG: IHDR: invalid");
    if (n < 33) return sg_errf(err, "PNG: truncated data");
    if (crc32(0, d + 12, 17) != be32(d + 29)) return sg_errf(err, "PNG: IHDR: CRC error");   /* "IHDR" + data */
    if (!png_ihdr_fields_valid(d[24], d[25], d[26], d[27], d[28])) return sg_errf(err, "PNG: Invalid IHDR data");
    *w = (int)w32;
    *h = (int)h32;
    return 0;
}

/* ---- which JPEGs may reuse a decompressor ----
 * libjpeg keeps quantization and Huffman tables from one image to the next in
 * a decompressor (for abbreviated streams, whose tables come separately). A
 * stream that uses a table it does not define itself would thus decode with
 * the tables of whatever image the decompressor read before, where Pillow (a
 * new decoder per image) refuses it (no quantization table) or uses the
 * standard Huffman tables. Such a stream gets a new decompressor instead.
 * The walk below reads the marker segments up to the first SOS (past it, for
 * progressive or multi-scan images, skipping each scan's entropy-coded data) and
 * answers yes only when it can tell that every table slot a scan uses was
 * defined earlier in the stream; anything it does not understand (malformed,
 * truncated, no scan, a second SOF) answers no, so libjpeg reports the problem
 * from a fresh state. SOI resets everything else (restart
 * interval, arithmetic-coding conditioning), so tables are all that carries over. */

static size_t be16(const uint8_t *p) { return (size_t)p[0] << 8 | p[1]; }

/* The offset of the marker (its 0xFF) that ends the entropy-coded data at d[at..),
 * or n when there is none: 0xFF 0x00 is a stuffed byte, 0xFF 0xD0..0xD7 a restart. */
static size_t skip_entropy_data(const uint8_t *d, size_t n, size_t at)
{
    while (at < n) {
        const uint8_t *ff = memchr(d + at, 0xff, n - at);
        if (!ff) return n;
        at = (size_t)(ff - d);
        if (at + 1 >= n) return n;
        uint8_t m = d[at + 1];
        if (m == 0x00 || (m >= 0xd0 && m <= 0xd7)) at += 2;
        else if (m == 0xff) at += 1;    /* fill byte before a marker */
        else return at;
    }
    return n;
}

/* The JPEG marker at d[*at] (fill bytes before it skipped): 0 when there is
 * none there, or its length passes the end; else 1 with *m the marker and, for
 * a marker with a length, *body and *len its payload (the length field
 * excluded), *at moved past it. TEM and RSTn have none (*len 0); EOI, SOI and
 * 0x00 come back as they are, for the caller to judge. The one walk over a
 * JPEG's segments, for sg_jpeg_defines_its_tables, the EXIF reader and the
 * comments. */
static int jpeg_segment(const uint8_t *d, size_t n, size_t *at, uint8_t *m, const uint8_t **body, size_t *len)
{
    size_t a = *at;
    while (a + 1 < n && d[a] == 0xff && d[a + 1] == 0xff) a++;
    if (a + 1 >= n || d[a] != 0xff) return 0;
    *m = d[a + 1];
    *body = d + a + 2;
    *len = 0;
    if (*m == 0x01 || (*m >= 0xd0 && *m <= 0xd9) || *m == 0x00) {   /* no length */
        *at = a + 2;
        return 1;
    }
    if (a + 4 > n) return 0;
    size_t l = be16(d + a + 2);
    if (l < 2 || l > n - a - 2) return 0;
    *body = d + a + 4;
    *len = l - 2;
    *at = a + 2 + l;
    return 1;
}

int sg_jpeg_defines_its_tables(const uint8_t *d, size_t n)
{
    if (!is_jpeg(d, n)) return 0;
    unsigned quant = 0, dc = 0, ac = 0;     /* bit k: slot k defined so far */
    int have_frame = 0, progressive = 0, arithmetic = 0, scans = 0, nf = 0;
    uint8_t comp_id[256], comp_quant[256];
    size_t at = 2;                          /* after SOI */
    for (;;) {
        uint8_t m;
        const uint8_t *s;
        size_t body;
        if (!jpeg_segment(d, n, &at, &m, &s, &body)) return 0;
        if (m == 0xd9) return scans > 0;                                    /* EOI */
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;                /* TEM, RSTn */
        if (m == 0x00 || m == 0xd8) return 0;
        const uint8_t *end = s + body;
        size_t len = body + 2;                                              /* as the length field says */
        if (m == 0xdb) {                                                    /* DQT: (Pq Tq, 64 or 128 bytes)... */
            while (s < end) {
                unsigned pq = s[0] >> 4, tq = s[0] & 15;
                size_t size = 1 + (pq ? 128 : 64);
                if (pq > 1 || tq > 3 || size > (size_t)(end - s)) return 0;
                quant |= 1u << tq;
                s += size;
            }
        } else if (m == 0xc4) {                                             /* DHT: (Tc Th, 16 counts, values)... */
            while (s < end) {
                if (end - s < 17 || (s[0] & 0xec)) return 0;               /* Tc 0/1, Th 0..3 */
                size_t values = 0;
                for (int k = 1; k <= 16; k++) values += s[k];
                if (values > 256 || 17 + values > (size_t)(end - s)) return 0;
                *(s[0] & 0x10 ? &ac : &dc) |= 1u << (s[0] & 3);
                s += 17 + values;
            }
        } else if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {    /* SOFn */
            if (have_frame || len < 8) return 0;
            nf = s[5];
            if (nf < 1 || len != 8 + 3 * (size_t)nf) return 0;
            for (int k = 0; k < nf; k++) {
                comp_id[k] = s[6 + 3 * k];
                comp_quant[k] = s[8 + 3 * k];
                if (comp_quant[k] > 3) return 0;
            }
            have_frame = 1;
            progressive = (m & 3) == 2;         /* SOF2, SOF6, SOF10, SOF14 */
            arithmetic = m >= 0xc9;
        } else if (m == 0xda) {                                             /* SOS */
            if (!have_frame || len < 6) return 0;
            int ns = s[0];
            if (ns < 1 || ns > 4 || len != 6 + 2 * (size_t)ns) return 0;     /* at most 4 components in a scan */
            int ss = s[1 + 2 * ns];
            for (int k = 0; k < ns; k++) {
                int c = 0;
                while (c < nf && comp_id[c] != s[1 + 2 * k]) c++;
                if (c == nf || !(quant >> comp_quant[c] & 1)) return 0;
                unsigned td = s[2 + 2 * k] >> 4, ta = s[2 + 2 * k] & 15;
                /* Huffman slots the scan may use: both in a sequential scan; the DC
                 * table in a progressive DC scan, the AC table in an AC scan */
                int need_dc = !arithmetic && (!progressive || ss == 0);
                int need_ac = !arithmetic && (!progressive || ss != 0);
                if ((need_dc && (td > 3 || !(dc >> td & 1))) || (need_ac && (ta > 3 || !(ac >> ta & 1)))) return 0;
            }
            /* A sequential scan of every component is the image's only scan:
             * libjpeg refuses a second SOS ("Didn't expect more than one scan")
             * before it uses any table, so what follows cannot matter. */
            if (!progressive && ns == nf) return 1;
            scans++;
            at = skip_entropy_data(d, n, at);
        }
    }
}

/* One TurboJPEG decompressor per thread, created on first use and destroyed at
 * thread exit: creating one per image costs more than a small JPEG's decode. */
static pthread_key_t tj_key;
static pthread_once_t tj_once = PTHREAD_ONCE_INIT;
static void tj_destroy(void *h) { if (h) tjDestroy(h); }
static void tj_key_create(void) { pthread_key_create(&tj_key, tj_destroy); }

static tjhandle thread_decompressor(void)
{
    pthread_once(&tj_once, tj_key_create);
    tjhandle h = pthread_getspecific(tj_key);
    if (!h) {
        h = tjInitDecompress();
        if (h) pthread_setspecific(tj_key, h);
    }
    return h;
}

/* A TurboJPEG call that failed can leave the decompressor inside a header
 * (tjDecompressHeader3 returns from its error handler without aborting), and a
 * tables-only stream leaves its tables loaded: either way the thread's next,
 * valid JPEG would be misread. So after any failure the decompressor is
 * dropped and the next call makes a fresh one. */
static void drop_thread_decompressor(void)
{
    tjhandle h = pthread_getspecific(tj_key);
    if (h) {
        tjDestroy(h);
        pthread_setspecific(tj_key, NULL);
    }
}

/* The decompressor for data: the thread's when the stream defines its own
 * tables, else (*fresh = 1) a new one that release_decompressor destroys. */
static tjhandle decompressor_for(const uint8_t *data, size_t len, int *fresh)
{
    *fresh = !sg_jpeg_defines_its_tables(data, len);
    return *fresh ? tjInitDecompress() : thread_decompressor();
}

static void release_decompressor(tjhandle tj, int fresh, int failed)
{
    if (fresh) tjDestroy(tj);
    else if (failed) drop_thread_decompressor();
}

/* Four-component JPEGs (CMYK, YCCK) are not converted to RGB: one message for
 * the TurboJPEG decoder, the probe and the libjpeg preprocessor, marked
 * ENOTSUP (sg_image_unsupported): a sound file of a kind not read. */
static int refuse_cmyk(sg_err *err)
{
    sg_errf(err, "JPEG: CMYK/YCCK colour space is not supported");
    if (err) err->sys_errno = ENOTSUP;
    return -1;
}

int sg_image_unsupported(const sg_err *err) { return err && err->sys_errno == ENOTSUP; }


static int libjpeg_decode(const uint8_t *data, size_t len, uint8_t **buf, size_t *cap, int *width, int *height,
                          sg_err *err);

/* The JPEG's size, checked against the limits, and its colour space (for
 * decode and probe alike: what the header says that the decoder refuses). The
 * rest of what libjpeg refuses in a header (12-bit precision, lossless or
 * hierarchical frames) tjDecompressHeader3 refuses itself, for both, with
 * libjpeg's words. A header libjpeg reads but TurboJPEG refuses in its own
 * words ("tjDecompressHeader3(): Could not determine subsampling type", for
 * chroma sampling outside its list, or no colour space for the component
 * count) is read by libjpeg instead, as sg_preprocess reads it: *via_libjpeg
 * is then 1, and with buf (a decode: see libjpeg_decode) the pixels too come
 * from that one reading of the header, into *buf. */
static int jpeg_header(tjhandle tj, const uint8_t *data, size_t len, uint8_t **buf, size_t *cap, int *w, int *h,
                       int *via_libjpeg, sg_err *err)
{
    int subsamp = 0, cs = -1;
    *w = *h = 0;
    *via_libjpeg = 0;
    if (tjDecompressHeader3(tj, data, (unsigned long)len, w, h, &subsamp, &cs) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        /* TurboJPEG's own words start with its function's name: "tjDecompressHeader3(): " in 2.x,
         * "tj3DecompressHeader(): " in 3.x; libjpeg's do not */
        if (strncmp(msg, "tj", 2) || !strstr(msg, "(): ")) return sg_errf(err, "JPEG: %s", msg);   /* libjpeg's */
        *via_libjpeg = 1;
        return libjpeg_decode(data, len, buf, cap, w, h, err);
    }
    /* success without a size: a tables-only stream (no image), e.g. a file cut
     * short after its tables */
    if (*w <= 0 || *h <= 0) return sg_errf(err, "JPEG: no image in the data (tables only; truncated?)");
    if (check_limits((unsigned long)*w, (unsigned long)*h, err)) return -1;
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) return refuse_cmyk(err);
    return 0;
}

/* Decodes a JPEG into *buf (grown as needed, capacity *cap). On failure, or
 * when TurboJPEG refused the header (*via_libjpeg), the caller drops the
 * decompressor (see drop_thread_decompressor). */
static int decode_jpeg_with(tjhandle tj, const uint8_t *data, size_t len, uint8_t **buf, size_t *cap,
                            int *width, int *height, int *via_libjpeg, sg_err *err)
{
    int w, h;
    if (jpeg_header(tj, data, len, buf, cap, &w, &h, via_libjpeg, err)) return -1;
    if (*via_libjpeg) {   /* decoded already */
        *width = w;
        *height = h;
        return 0;
    }
    size_t need = (size_t)w * h * 3;
    if (*cap < need) {
        uint8_t *nb = realloc(*buf, need);
        if (!nb) return sg_err_oom(err, "out of memory for a %dx%d image", w, h);
        *buf = nb;
        *cap = need;
    }
    /* ACCURATEDCT = libjpeg's islow IDCT, fancy upsampling on: Pillow's defaults.
     * Any warning (e.g. "Premature end of JPEG file") makes tjDecompress2 return
     * -1 with TJERR_WARNING; Pillow refuses truncated files too, so we do. */
    if (tjDecompress2(tj, data, (unsigned long)len, *buf, w, 0, h, TJPF_RGB, TJFLAG_ACCURATEDCT) != 0) {
        int fatal = tjGetErrorCode(tj) == TJERR_FATAL;
        return sg_errf(err, "JPEG: %s%s", fatal ? "" : "corrupt or truncated data: ", tjGetErrorStr2(tj));
    }
    *width = w;
    *height = h;
    return 0;
}

static int decode_jpeg_into(const uint8_t *data, size_t len, uint8_t **buf, size_t *cap,
                            int *width, int *height, sg_err *err)
{
    int fresh;
    tjhandle tj = decompressor_for(data, len, &fresh);
    if (!tj) return sg_errf(err, "JPEG: cannot initialise TurboJPEG");
    int via_libjpeg = 0;
    int rc = decode_jpeg_with(tj, data, len, buf, cap, width, height, &via_libjpeg, err);
    release_decompressor(tj, fresh, rc != 0 || via_libjpeg);
    return rc;
}

static int decode_jpeg(const uint8_t *data, size_t len, sg_image *out, sg_err *err)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    int w = 0, h = 0;
    if (decode_jpeg_into(data, len, &buf, &cap, &w, &h, err)) { free(buf); return -1; }
    out->width = w; out->height = h; out->rgb = buf;
    return 0;
}

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    const volatile sig_atomic_t *stop;   /* sg_preprocessor's stop, or NULL */
} png_source;

static void png_read_mem(png_structp png, png_bytep dst, png_size_t n)
{
    png_source *src = png_get_io_ptr(png);
    if (src->stop && *src->stop) png_error(png, "stopped");
    if (n > src->len - src->pos) png_error(png, "truncated data");
    memcpy(dst, src->data + src->pos, n);
    src->pos += n;
}

/* A chunk other than IDAT whose stated length passes the end of the data:
 * libpng allocates that length before it reads a byte of it (a 365-byte
 * file whose tEXt says 1.7 GB took 1.7 GB, per decoding thread), so it is
 * refused first, with the words libpng would end with. IDAT is read in
 * pieces and left to libpng; the walk stops there, at IEND or at a header
 * that does not fit. */
static int png_chunks_fit(const uint8_t *d, size_t n, sg_err *err)
{
    for (size_t pos = 8; n - pos >= 8;) {
        uint32_t length = be32(d + pos);
        const uint8_t *type = d + pos + 4;
        if (!memcmp(type, "IDAT", 4) || !memcmp(type, "IEND", 4)) return 0;
        if ((uint64_t)length + 12 > n - pos)
            return sg_errf(err, "PNG: truncated data (a %s chunk of %lu bytes, %zu left)",
                           sg_quote_bytes(type, 4).s, (unsigned long)length, n - pos - 8);
        pos += (size_t)length + 12;
    }
    return 0;
}

/* stop: as sg_preprocessor's (NULL: none). */
static int decode_png(const uint8_t *data, size_t len, sg_image *out, const volatile sig_atomic_t *stop, sg_err *err)
{
    int w, h;
    if (png_header(data, len, &w, &h, err) || png_chunks_fit(data, len, err)) return -1;
    png_source src = {data, len, 0, stop};
    sg_png_messages msgs;   /* libpng's reason for a failure (png_messages.h) */
    png_structp png = sg_png_create_read(&msgs);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return sg_png_messages_err(err, &msgs, "PNG");
    }
    /* volatile: modified between setjmp and a possible longjmp. */
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rgb); free(rows);
        return sg_png_messages_err(err, &msgs, "PNG");
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_user_limits(png, SG_IMAGE_MAX_SIDE, SG_IMAGE_MAX_SIDE);   /* a second line: png_header checked */
    png_read_info(png, info);
    png_uint_32 w32, h32;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w32, &h32, &depth, &color, &interlace, NULL, NULL);
    if ((int)w32 != w || (int)h32 != h) {      /* the same IHDR bytes: cannot happen */
        char msg[96];
        snprintf(msg, sizeof msg, "IHDR read as %ux%u, expected %dx%d", (unsigned)w32, (unsigned)h32, w, h);
        png_error(png, msg);
    }

    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* Pillow opens 16-bit grey as mode "I", whose conversion to RGB clips at 255;
     * every other 16-bit type keeps the high byte (its "RGB;16B", "LA;16B"). */
    int grey16 = color == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (depth == 16 && !grey16) png_set_strip_16(png);
    /* Palette expansion turns tRNS into an alpha channel: strip that as well. */
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (!grey16 && (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * (grey16 ? 2 : 3)) png_error(png, "unsupported pixel layout");
    rgb = malloc((size_t)w * h * 3);
    rows = malloc(sizeof *rows * (size_t)h);
    if (!rgb || !rows) {
        char msg[64];
        snprintf(msg, sizeof msg, "no memory for a %dx%d image", w, h);
        sg_png_out_of_memory(png, msg);
    }
    for (int y = 0; y < h; y++) rows[y] = rgb + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (grey16) {
        /* Each row holds w big-endian uint16 in its first 2w bytes: expand in place from the end. */
        for (int y = 0; y < h; y++) {
            uint8_t *row = rows[y];
            for (int x = w - 1; x >= 0; x--) {
                unsigned v = (unsigned)row[2 * x] << 8 | row[2 * x + 1];   /* PNG is big-endian */
                uint8_t g = v > 255 ? 255 : (uint8_t)v;
                row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = g;
            }
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->width = w; out->height = h; out->rgb = rgb;
    return 0;
}

int sg_image_decode(const uint8_t *data, size_t len, sg_image *out, sg_err *err)
{
    out->width = out->height = 0;
    out->rgb = NULL;
    if (is_jpeg(data, len)) return decode_jpeg(data, len, out, err);
    if (is_png(data, len)) return decode_png(data, len, out, NULL, err);
    if (len == 0) return sg_errf(err, "empty file");
    return sg_errf(err, "not a JPEG or PNG image");
}

int sg_image_probe(const uint8_t *data, size_t len, int *width, int *height, sg_err *err)
{
    if (is_jpeg(data, len)) {
        int fresh;
        tjhandle tj = decompressor_for(data, len, &fresh);
        if (!tj) return sg_errf(err, "JPEG: cannot initialise TurboJPEG");
        int via_libjpeg;
        int rc = jpeg_header(tj, data, len, NULL, NULL, width, height, &via_libjpeg, err);
        release_decompressor(tj, fresh, rc != 0 || via_libjpeg);
        return rc;
    }
    if (is_png(data, len)) return png_header(data, len, width, height, err);
    if (len == 0) return sg_errf(err, "empty file");
    return sg_errf(err, "not a JPEG or PNG image");
}

int sg_image_read_file(const char *path, sg_image *out, sg_err *err)
{
    return sg_image_read_file_oriented(path, 0, out, err);
}

/* ---- EXIF orientation ---- */

/* Tag 0x0112 of the TIFF structure t[0..n) (EXIF's payload): IFD0's entries
 * only, each checked against n. */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n < 8) return 1;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
#define U16(p) (le ? (uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 : (uint32_t)(p)[0] << 8 | (p)[1])
#define U32(p) (le ? U16(p) | U16((p) + 2) << 16 : U16(p) << 16 | U16((p) + 2))
    if (U16(t + 2) != 42) return 1;
    uint32_t ifd = U32(t + 4);
    if (ifd < 8 || ifd > n - 2) return 1;
    uint32_t count = U16(t + ifd);
    for (uint32_t i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)12 * i;
        if (e + 12 > n) return 1;                 /* cut short */
        if (U16(t + e) != 0x0112) continue;
        uint32_t type = U16(t + e + 2), cnt = U32(t + e + 4), v;
        if (cnt != 1) return 1;
        /* SHORT is the standard's; Pillow reads the value of the other
         * integer types as well (signed ones' 1..8 are the same bits) */
        if (type == 3 || type == 8) v = U16(t + e + 8);        /* SHORT, SSHORT */
        else if (type == 4 || type == 9) v = U32(t + e + 8);   /* LONG, SLONG */
        else if (type == 1) v = t[e + 8];                      /* BYTE */
        else return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
#undef U16
#undef U32
}

int sg_image_exif_orientation(const uint8_t *d, size_t n)
{
    if (is_jpeg(d, n)) {
        size_t at = 2;
        uint8_t m;
        const uint8_t *s;
        size_t len;
        while (jpeg_segment(d, n, &at, &m, &s, &len)) {   /* markers up to the first scan */
            if (m == 0xda || m == 0xd9 || m == 0x00 || m == 0xd8) return 1;
            if (m == 0xe1 && len >= 6 && !memcmp(s, "Exif\0\0", 6))   /* the first, as Pillow */
                return tiff_orientation(s + 6, len - 6);
        }
        return 1;
    }
    if (is_png(d, n)) {
        for (size_t at = 8; at + 12 <= n;) {
            size_t len = be32(d + at);
            if (len > n - at - 12) return 1;
            if (!memcmp(d + at + 4, "eXIf", 4)) return tiff_orientation(d + at + 8, len);
            if (!memcmp(d + at + 4, "IEND", 4)) return 1;
            at += 12 + len;
        }
    }
    return 1;
}

int sg_image_orient(sg_image *img, int o, sg_err *err)
{
    if (o < 2 || o > 8) return 0;
    int w = img->width, h = img->height, swap = o >= 5;
    int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return sg_err_oom(err, "out of memory");
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;   /* the source pixel of output (x, y) */
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break;
            }
            memcpy(rgb + ((size_t)y * ow + x) * 3, img->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    free(img->rgb);
    img->rgb = rgb;
    img->width = ow;
    img->height = oh;
    return 0;
}

int sg_image_read_file_oriented(const char *path, int exif, sg_image *out, sg_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    out->width = out->height = 0;
    out->rgb = NULL;
    if (sg_read_file(path, SG_IMAGE_MAX_FILE, &data, &len, err)) return -1;
    int o = exif ? sg_image_exif_orientation(data, len) : 1;
    int rc = sg_image_decode(data, len, out, err);
    free(data);
    if (!rc && (rc = sg_image_orient(out, o, err))) sg_image_free(out);
    if (rc) return sg_err_prefix(err, "%s", strcmp(path, "-") == 0 ? "<stdin>" : path);
    return 0;
}

/* ---- libjpeg scanline decoding for sg_preprocess ---- */

typedef struct {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jump;
    int warning;                    /* the failure was a libjpeg warning */
    char msg[JMSG_LENGTH_MAX];
} jpeg_reader;

static void jpeg_reader_error_exit(j_common_ptr c)
{
    jpeg_reader *r = (jpeg_reader *)c->client_data;
    (*c->err->format_message)(c, r->msg);
    r->warning = 0;
    longjmp(r->jump, 1);
}

/* Warnings (level -1: corrupt data, premature end of file) are errors, as with
 * TurboJPEG in sg_image_decode; trace messages (level >= 0) are ignored. */
static void jpeg_reader_emit(j_common_ptr c, int level)
{
    if (level >= 0) return;
    jpeg_reader *r = (jpeg_reader *)c->client_data;
    (*c->err->format_message)(c, r->msg);
    r->warning = 1;
    longjmp(r->jump, 1);
}

static jpeg_reader *jpeg_reader_new(void)
{
    jpeg_reader *volatile r = calloc(1, sizeof *r);   /* volatile: read after longjmp */
    if (!r) return NULL;
    r->cinfo.err = jpeg_std_error(&r->jerr);
    r->jerr.error_exit = jpeg_reader_error_exit;
    r->jerr.emit_message = jpeg_reader_emit;
    r->cinfo.client_data = r;
    if (setjmp(r->jump)) { free(r); return NULL; }
    jpeg_create_decompress(&r->cinfo);
    return r;
}

static void jpeg_reader_free(jpeg_reader *r)
{
    if (!r) return;
    jpeg_destroy_decompress(&r->cinfo);
    free(r);
}

/* The last marker of a complete JPEG is EOI (FF D9), possibly followed by a
 * little padding. Without it the file is truncated or damaged at the end. */
static int has_eoi(const uint8_t *d, size_t n)
{
    size_t stop = n > 64 ? n - 64 : 0;
    for (size_t i = n; i >= stop + 2; i--)
        if (d[i - 2] == 0xff && d[i - 1] == 0xd9) return 1;
    return 0;
}

static int use_plan(sg_preprocessor *p, int w, int h, sg_err *err);

/* Reads a JPEG with libjpeg: the header, its size checked against the limits,
 * then rows first..last-1 into *pixels (grown as needed, capacity *cap; *first
 * set). With p (sg_preprocess): p's resize plan, and only the rows it reads
 * unless p->full_decode or the file lacks its EOI. Without p (sg_image_decode
 * and sg_image_probe, for headers TurboJPEG refuses): every row, or, with
 * pixels NULL, the header only; a colour space with no conversion to RGB is
 * refused from the header. */
static int libjpeg_rows(jpeg_reader *r, const uint8_t *data, size_t len, sg_preprocessor *p, uint8_t **pixels,
                        size_t *cap, int *width, int *height, int *first_row, sg_err *err)
{
    struct jpeg_decompress_struct *ci = &r->cinfo;
    if (setjmp(r->jump)) {
        jpeg_abort_decompress(ci);
        sg_errf(err, "JPEG: %s%s", r->warning ? "corrupt or truncated data: " : "", r->msg);
        /* libjpeg's allocator failed ("Insufficient memory (case N)") */
        if (err && !r->warning && r->jerr.msg_code == JERR_OUT_OF_MEMORY) err->sys_errno = ENOMEM;
        return -1;
    }
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    if (check_limits(ci->image_width, ci->image_height, err)) { jpeg_abort_decompress(ci); return -1; }
    int w = (int)ci->image_width, h = (int)ci->image_height;
    if (p && use_plan(p, w, h, err)) { jpeg_abort_decompress(ci); return -1; }
    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK) {
        jpeg_abort_decompress(ci);
        return refuse_cmyk(err);
    }
    if (!p && ci->jpeg_color_space != JCS_GRAYSCALE && ci->jpeg_color_space != JCS_RGB
        && ci->jpeg_color_space != JCS_YCbCr) {
        int n = ci->num_components;
        jpeg_abort_decompress(ci);
        return sg_errf(err, "JPEG: %d colour components without a known colour space are not supported", n);
    }
    *width = w;
    *height = h;
    if (!pixels) { jpeg_abort_decompress(ci); return 0; }
    /* Pillow's settings (libjpeg's defaults): islow IDCT, fancy upsampling. */
    ci->out_color_space = JCS_EXT_RGB;
    ci->dct_method = JDCT_ISLOW;
    ci->do_fancy_upsampling = TRUE;
    int first = 0, last = h;
    if (p && !p->full_decode && has_eoi(data, len)) sg_resize_plan_source_rows(&p->plan, &first, &last);
    size_t stride = (size_t)w * 3, need = stride * (size_t)(last - first);
    if (*cap < need) {
        uint8_t *nb = realloc(*pixels, need);
        if (!nb) { jpeg_abort_decompress(ci); return sg_err_oom(err, "out of memory for a %dx%d image", w, h); }
        *pixels = nb;
        *cap = need;
    }
    jpeg_start_decompress(ci);
    if ((int)ci->output_width != w || (int)ci->output_height != h || ci->output_components != 3) {
        jpeg_abort_decompress(ci);
        return sg_errf(err, "JPEG: unexpected output geometry");
    }
    if (first > 0 && (int)jpeg_skip_scanlines(ci, (JDIMENSION)first) != first) {
        jpeg_abort_decompress(ci);
        return sg_errf(err, "JPEG: cannot skip to row %d", first);
    }
    while ((int)ci->output_scanline < last) {
        if (p && p->stop && *p->stop) {
            jpeg_abort_decompress(ci);
            return sg_errf(err, "JPEG: stopped");
        }
        JSAMPROW row = *pixels + stride * (ci->output_scanline - first);
        if (jpeg_read_scanlines(ci, &row, 1) != 1) {
            jpeg_abort_decompress(ci);
            return sg_errf(err, "JPEG: no data for row %u", ci->output_scanline);
        }
    }
    if (last == h) jpeg_finish_decompress(ci);      /* reads up to EOI: late warnings surface */
    else jpeg_abort_decompress(ci);
    *first_row = first;
    return 0;
}

static int preprocess_jpeg_with(sg_preprocessor *p, jpeg_reader *r, const uint8_t *data, size_t len, uint8_t *out, sg_err *err)
{
    int w, h, first;
    if (libjpeg_rows(r, data, len, p, &p->pixels, &p->pixels_cap, &w, &h, &first, err)) return -1;
    sg_resize_apply(&p->plan, p->pixels, first, out, p->scratch);
    return 0;
}

/* sg_image_decode's (buf non-NULL) and sg_image_probe's read of a JPEG whose
 * header TurboJPEG refuses: a new libjpeg decompressor (no tables carried
 * over), every row, sg_preprocess's settings. */
static int libjpeg_decode(const uint8_t *data, size_t len, uint8_t **buf, size_t *cap, int *width, int *height,
                          sg_err *err)
{
    jpeg_reader *r = jpeg_reader_new();
    if (!r) return sg_err_oom(err, "JPEG: cannot initialise libjpeg");   /* only malloc fails */
    int first;
    int rc = libjpeg_rows(r, data, len, NULL, buf, cap, width, height, &first, err);
    jpeg_reader_free(r);
    return rc;
}

/* The preprocessor's libjpeg decompressor keeps tables from image to image as
 * TurboJPEG's does: a stream that does not define its own gets a new one (see
 * sg_jpeg_defines_its_tables). */
static int preprocess_jpeg(sg_preprocessor *p, const uint8_t *data, size_t len, uint8_t *out, sg_err *err)
{
    if (!sg_jpeg_defines_its_tables(data, len)) {
        jpeg_reader *r = jpeg_reader_new();
        if (!r) return sg_err_oom(err, "JPEG: cannot initialise libjpeg");   /* only malloc fails */
        int rc = preprocess_jpeg_with(p, r, data, len, out, err);
        jpeg_reader_free(r);
        return rc;
    }
    if (!p->jpeg && !(p->jpeg = jpeg_reader_new())) return sg_err_oom(err, "JPEG: cannot initialise libjpeg");
    return preprocess_jpeg_with(p, p->jpeg, data, len, out, err);
}

void sg_preprocessor_init(sg_preprocessor *p, int crop_w, int crop_h, int out_w, int out_h)
{
    memset(p, 0, sizeof *p);
    p->crop_w = crop_w; p->crop_h = crop_h;
    p->out_w = out_w; p->out_h = out_h;
}

void sg_preprocessor_free(sg_preprocessor *p)
{
    if (p->have_plan) sg_resize_plan_free(&p->plan);
    jpeg_reader_free(p->jpeg);
    free(p->pixels);
    free(p->scratch);
    memset(p, 0, sizeof *p);
}

static int use_plan(sg_preprocessor *p, int w, int h, sg_err *err)
{
    if (p->have_plan && p->plan.src_w == w && p->plan.src_h == h) return 0;
    if (p->have_plan) sg_resize_plan_free(&p->plan);
    p->have_plan = 0;
    if (sg_resize_plan_init(&p->plan, w, h, p->crop_w, p->crop_h, p->out_w, p->out_h, err)) return -1;
    p->have_plan = 1;
    size_t need = sg_resize_plan_scratch_size(&p->plan);
    if (p->scratch_cap < need) {
        uint8_t *nb = realloc(p->scratch, need);
        if (!nb) return sg_err_oom(err, "out of memory");
        p->scratch = nb;
        p->scratch_cap = need;
    }
    return 0;
}

int sg_preprocess(sg_preprocessor *p, const uint8_t *data, size_t len, uint8_t *out, sg_err *err)
{
    if (is_jpeg(data, len)) return preprocess_jpeg(p, data, len, out, err);
    sg_image img = {0};
    if (is_png(data, len) ? decode_png(data, len, &img, p->stop, err) : sg_image_decode(data, len, &img, err)) return -1;
    int rc = use_plan(p, img.width, img.height, err);
    if (!rc) sg_resize_apply(&p->plan, img.rgb, 0, out, p->scratch);
    sg_image_free(&img);
    return rc;
}

/* ---- comments: sg-sample's grid mark (image.h) ------------------------------ */

static const char png_comment_key[] = "Comment";   /* a registered tEXt keyword */

static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

/* Inserts n bytes of ins at offset at of *data. */
static int splice(uint8_t **data, size_t *len, size_t at, const uint8_t *ins, size_t n, sg_err *err)
{
    uint8_t *d = realloc(*data, *len + n);
    if (!d) return sg_err_oom(err, "out of memory");
    memmove(d + at + n, d + at, *len - at);
    memcpy(d + at, ins, n);
    *data = d;
    *len += n;
    return 0;
}

int sg_image_add_comment(uint8_t **data, size_t *len, const char *text, sg_err *err)
{
    size_t n = strlen(text);
    if (n > 1000) return sg_errf(err, "image comment of %zu bytes (at most 1000)", n);
    for (size_t i = 0; i < n; i++)
        if (text[i] < 0x20 || text[i] > 0x7e) return sg_errf(err, "image comment: not printable ASCII");
    uint8_t chunk[12 + sizeof png_comment_key + 1000];
    const uint8_t *d = *data;
    if (is_png(d, *len) && *len >= 33 && !memcmp(d + 12, "IHDR", 4) && be32(d + 8) == 13) {
        /* after IHDR: length, "tEXt", keyword NUL text, CRC of type and data */
        size_t body = sizeof png_comment_key + n;
        put_be32(chunk, (uint32_t)body);
        memcpy(chunk + 4, "tEXt", 4);
        memcpy(chunk + 8, png_comment_key, sizeof png_comment_key);
        memcpy(chunk + 8 + sizeof png_comment_key, text, n);
        put_be32(chunk + 8 + body, (uint32_t)crc32(0, chunk + 4, (uInt)(4 + body)));
        return splice(data, len, 33, chunk, 12 + body, err);
    }
    if (!is_jpeg(d, *len)) return sg_errf(err, "image comment: neither a PNG nor a JPEG");
    /* after SOI and, if there, the JFIF APP0 (which must come first) */
    size_t at = 2, next = 2, body;
    uint8_t m;
    const uint8_t *s;
    if (jpeg_segment(d, *len, &next, &m, &s, &body) && m == 0xe0) at = next;
    chunk[0] = 0xff;
    chunk[1] = 0xfe;
    chunk[2] = (uint8_t)((n + 2) >> 8);
    chunk[3] = (uint8_t)(n + 2);
    memcpy(chunk + 4, text, n);
    return splice(data, len, at, chunk, 4 + n, err);
}

int sg_image_has_comment(const uint8_t *d, size_t n, const char *text)
{
    size_t tl = strlen(text);
    if (is_jpeg(d, n)) {
        size_t at = 2, len;
        uint8_t m;
        const uint8_t *s;
        while (jpeg_segment(d, n, &at, &m, &s, &len)) {   /* markers up to the first scan */
            if (m == 0xda || m == 0xd9 || m == 0x00 || m == 0xd8) return 0;
            if (m == 0xfe && len == tl && !memcmp(s, text, tl)) return 1;
        }
        return 0;
    }
    if (is_png(d, n)) {
        for (size_t at = 8; at + 12 <= n;) {
            size_t len = be32(d + at);
            if (len > n - at - 12) return 0;
            if (!memcmp(d + at + 4, "IDAT", 4) || !memcmp(d + at + 4, "IEND", 4)) return 0;
            if (!memcmp(d + at + 4, "tEXt", 4) && len == sizeof png_comment_key + tl &&
                !memcmp(d + at + 8, png_comment_key, sizeof png_comment_key) &&
                !memcmp(d + at + 8 + sizeof png_comment_key, text, tl))
                return 1;
            at += 12 + len;
        }
    }
    return 0;
}

int sg_image_file_has_comment(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static const size_t cap = 64 << 10;
    uint8_t *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    int has = buf && sg_image_has_comment(buf, n, text);
    free(buf);
    return has;
}

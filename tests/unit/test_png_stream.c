/* PNG row by row and behind a producer (lib/png_stream.h): the same bytes as
 * libpng's png_write_image of the whole image with sg_png_encode's settings
 * (what sg_png_encode did before it went through the writer), in any split
 * of the rows; refusals; a decode round trip. libpng's failures, on write and
 * on read, reach the sg_err with libpng's reason and nothing reaches stderr
 * (lib/png_messages.h). */
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "check.h"
#include "image.h"
#include "png_stream.h"

typedef struct { uint8_t *buf; size_t len, cap; } outbuf;

static void out_write(png_structp png, png_bytep data, png_size_t n)
{
    outbuf *o = png_get_io_ptr(png);
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->buf = realloc(o->buf, o->cap);
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
}
static void out_flush(png_structp png) { (void)png; }

/* The reference: the whole image through png_write_image, level 6, default filters. */
static outbuf reference_png(const uint8_t *rgb, int w, int h)
{
    outbuf o = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    if (setjmp(png_jmpbuf(png))) { printf("reference encoder failed\n"); exit(1); }
    png_set_write_fn(png, &o, out_write, out_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(rgb + (size_t)y * w * 3);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return o;
}

/* Smooth areas, flat areas and noise, so that every filter type is chosen somewhere. */
static uint8_t *make_image(int w, int h, unsigned seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    unsigned s = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                s = s * 1103515245u + 12345u;
                uint8_t v = y < h / 3 ? (uint8_t)(x * 3 + y * c) : y < 2 * h / 3 ? (uint8_t)(40 * c) : (uint8_t)(s >> 16);
                p[((size_t)y * w + x) * 3 + c] = v;
            }
    return p;
}

static int same(const uint8_t *a, size_t na, const outbuf *ref) { return na == ref->len && memcmp(a, ref->buf, na) == 0; }

static void check_size(int w, int h)
{
    sg_err err = { { 0 } };
    uint8_t *rgb = make_image(w, h, (unsigned)(w * 31 + h));
    outbuf ref = reference_png(rgb, w, h);
    uint8_t *out = NULL;
    size_t len = 0;

    CHECK(sg_png_encode(rgb, w, h, &out, &len, &err) == 0, "%dx%d: %s", w, h, err.msg);
    CHECK(same(out, len, &ref), "%dx%d: sg_png_encode: %zu bytes, the reference %zu or other bytes", w, h, len, ref.len);
    free(out);

    /* rows in pieces of 1, 2, 3, ... */
    sg_png_writer *wr;
    CHECK(sg_png_writer_begin(&wr, w, h, &err) == 0, "%s", err.msg);
    int ok = 1;
    for (int y = 0, n = 1; y < h; y += n, n++) {
        int k = n < h - y ? n : h - y;
        ok &= sg_png_writer_rows(wr, rgb + (size_t)y * w * 3, k, &err) == 0;
        if (k < n) break;
    }
    CHECK(ok, "%dx%d: writer rows: %s", w, h, err.msg);
    CHECK(sg_png_writer_end(wr, &out, &len, &err) == 0, "%dx%d: writer end: %s", w, h, err.msg);
    CHECK(same(out, len, &ref), "%dx%d: writer in pieces: %zu bytes, the reference %zu or other bytes", w, h, len, ref.len);
    free(out);

    /* behind a producer that fills the rows as it declares them final */
    for (int step = 1; step <= h + 1; step = step * 3 + 1) {
        uint8_t *canvas = calloc((size_t)w * h * 3, 1);
        sg_png_background *bg;
        CHECK(sg_png_background_begin(&bg, canvas, w, h, &err) == 0, "%s", err.msg);
        for (int y = 0; y < h; y += step) {
            int k = step < h - y ? step : h - y;
            memcpy(canvas + (size_t)y * w * 3, rgb + (size_t)y * w * 3, (size_t)k * w * 3);
            sg_png_background_ready(bg, y + k);
        }
        sg_png_background_ready(bg, h + 5);   /* clipped */
        CHECK(sg_png_background_end(bg, &out, &len, &err) == 0, "%dx%d step %d: %s", w, h, step, err.msg);
        CHECK(same(out, len, &ref), "%dx%d: background, %d rows at a time: %zu bytes, the reference %zu or other bytes",
              w, h, step, len, ref.len);
        free(out);
        free(canvas);
    }
    /* nothing declared until the end: all encoded by end() */
    sg_png_background *bg;
    CHECK(sg_png_background_begin(&bg, rgb, w, h, &err) == 0, "%s", err.msg);
    CHECK(sg_png_background_end(bg, &out, &len, &err) == 0, "%s", err.msg);
    CHECK(same(out, len, &ref), "%dx%d: background, all at the end", w, h);

    sg_image img = { 0 };
    CHECK(sg_image_decode(out, len, &img, &err) == 0, "%s", err.msg);
    CHECK(img.width == w && img.height == h && img.rgb && !memcmp(img.rgb, rgb, (size_t)w * h * 3),
          "%dx%d: the decoded pixels differ", w, h);
    sg_image_free(&img);
    free(out);
    free(ref.buf);
    free(rgb);
}

/* ---- libpng's messages ------------------------------------------------------ */

/* fd 2 goes to a temporary file between stderr_capture and stderr_captured,
 * which returns what was written there (at most n - 1 bytes, NUL-terminated). */
static int saved_stderr = -1;
static FILE *captured;

static void stderr_capture(void)
{
    fflush(stderr);
    captured = tmpfile();
    saved_stderr = dup(2);
    if (captured && saved_stderr >= 0) dup2(fileno(captured), 2);
}

static const char *stderr_captured(char *buf, size_t n)
{
    fflush(stderr);
    if (saved_stderr >= 0) { dup2(saved_stderr, 2); close(saved_stderr); saved_stderr = -1; }
    buf[0] = 0;
    if (!captured) return "(no temporary file for stderr)";
    rewind(captured);
    size_t got = fread(buf, 1, n - 1, captured);
    buf[got] = 0;
    fclose(captured);
    captured = NULL;
    return buf;
}

/* A width over libpng's limit for writing (PNG_USER_WIDTH_MAX, 1000000): it
 * warns "Image width exceeds user limit in IHDR", then fails with "Invalid
 * IHDR data" (png_check_IHDR); its default handlers printed both on stderr
 * and sg_png_encode said only "PNG: encoding failed". */
static void test_refusal_recorded(void)
{
    const int too_wide = 1000001;
    uint8_t px[3] = { 0 }, *out = NULL;   /* never read: the header is refused first */
    size_t len = 0;
    char printed[512];
    sg_err err = { { 0 } };

    stderr_capture();
    int rc = sg_png_encode(px, too_wide, 1, &out, &len, &err);
    stderr_captured(printed, sizeof printed);
    CHECK(rc == -1 && !strncmp(err.msg, "PNG: encoding failed: ", 22) && strstr(err.msg, "Invalid IHDR data")
              && strstr(err.msg, "(Image width exceeds user limit in IHDR)") && err.sys_errno == 0,
          "sg_png_encode of a %dx1 image: rc %d, \"%s\", sys_errno %d", too_wide, rc, err.msg, err.sys_errno);
    CHECK(printed[0] == 0, "sg_png_encode printed on stderr: \"%s\"", printed);

    /* the writer's later calls say the same; so does the background encoder */
    sg_png_background *bg = NULL;
    sg_err berr = { { 0 } };
    stderr_capture();
    rc = sg_png_background_begin(&bg, px, too_wide, 1, &berr);
    stderr_captured(printed, sizeof printed);
    CHECK(rc == -1 && !strcmp(berr.msg, err.msg), "background: rc %d, \"%s\", want \"%s\"", rc, berr.msg, err.msg);
    CHECK(printed[0] == 0, "the background encoder printed on stderr: \"%s\"", printed);
    if (!rc) sg_png_background_end(bg, &out, &len, &berr);
}

/* What a child under an address-space limit tells its parent, through a pipe. */
typedef struct {
    int rc, sys_errno, limited;   /* limited: RLIMIT_AS was set (else nothing was run) */
    char msg[512], printed[512];  /* the sg_err's message; what reached stderr */
} limited_report;

/* Runs body(arg, &err) in a child whose address space is limited to what it
 * already has and headroom_kib more, stderr captured: a failing allocation
 * there is a real one, and the parent's heap stays as it was. Returns 0 with
 * *r filled, -1 (after a failed CHECK) when the child told nothing. */
static int run_limited(long headroom_kib, int (*body)(void *arg, sg_err *err), void *arg, limited_report *r)
{
    int fds[2];
    memset(r, 0, sizeof *r);
    if (pipe(fds)) { CHECK(0, "pipe: %s", strerror(errno)); return -1; }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long vm_kib = -1;
        while (f && fgets(line, sizeof line, f)) sscanf(line, "VmSize: %ld kB", &vm_kib);
        if (f) fclose(f);
        rlim_t bytes = (rlim_t)(vm_kib + headroom_kib) * 1024;
        struct rlimit lim = { bytes, bytes };
        r->limited = vm_kib > 0 && setrlimit(RLIMIT_AS, &lim) == 0;
        if (r->limited) {
            sg_err err = { { 0 } };
            stderr_capture();
            r->rc = body(arg, &err);
            stderr_captured(r->printed, sizeof r->printed);
            r->sys_errno = err.sys_errno;
            snprintf(r->msg, sizeof r->msg, "%s", r->rc ? err.msg : "succeeded");
        }
        ssize_t put = write(fds[1], r, sizeof *r);
        _exit(put == (ssize_t)sizeof *r ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = pid > 0 ? read(fds[0], r, sizeof *r) : -1;
    close(fds[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    if (got != (ssize_t)sizeof *r) { CHECK(0, "the child reported nothing (fork: %d)", (int)pid); return -1; }
    return 0;
}

typedef struct { const uint8_t *rgb; int w; } encode_args;

static int encode_one_row(void *arg, sg_err *err)
{
    const encode_args *a = arg;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = sg_png_encode(a->rgb, a->w, 1, &out, &len, err);
    free(out);
    return rc;
}

/* body run on a zeroed 1000000-pixel row (3 MB; libpng allocates several)
 * in a child with 1 MiB of address space to spare (run_limited). 1 when r
 * holds its report; 0 when the set-up failed or no limit could be set, said
 * as a failed check or a skip naming what. */
static int run_wide_row_limited(int (*body)(void *arg, sg_err *err), limited_report *r, const char *what)
{
    encode_args a = { calloc(1000000, 3), 1000000 };
    if (!a.rgb) { CHECK(0, "set-up: %s", strerror(errno)); return 0; }
    int told = run_limited(1024, body, &a, r);
    free((void *)a.rgb);
    if (told) return 0;
    if (!r->limited) { SKIP("%s: RLIMIT_AS could not be set", what); return 0; }
    return 1;
}

/* Out of memory inside libpng: a 1000000x1 image (rows of 3 MB, libpng
 * allocates several) in a child with 1 MiB of address space to spare.
 * libpng fails with "Out of memory"; the sg_err holds that and ENOMEM,
 * stderr nothing. */
static void test_out_of_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
    SKIP("out of memory under ulimit: not in a sanitizer build");
    return;
#endif
    limited_report r;
    if (!run_wide_row_limited(encode_one_row, &r, "out of memory")) return;
    CHECK(r.rc == -1 && r.sys_errno == ENOMEM && !strncmp(r.msg, "PNG: encoding failed: ", 22)
              && strstr(r.msg, "Out of memory") && strstr(r.msg, strerror(ENOMEM)),
          "a %dx1 image with 1 MiB of address space left: rc %d, \"%s\", sys_errno %d (want ENOMEM)",
          1000000, r.rc, r.msg, r.sys_errno);
    CHECK(r.printed[0] == 0, "out of memory: printed on stderr: \"%s\"", r.printed);
}

static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }
static uint32_t get_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* A 4x3 PNG with a chunk TYPE holding data[0..dn) after IHDR (its CRC wrong
 * if bad_crc) and a wrong CRC on its IDAT, so that decoding it fails there.
 * NULL (after a failed CHECK) if it cannot be made. */
static uint8_t *png_with_chunk(const char *type, const uint8_t *data, size_t dn, int bad_crc, size_t *n)
{
    uint8_t rgb[4 * 3 * 3] = { 0 }, *png = NULL;
    size_t pn = 0, ihdr_end = 8 + 25;
    sg_err err = { { 0 } };
    if (sg_png_encode(rgb, 4, 3, &png, &pn, &err)) { CHECK(0, "encoding the test PNG: %s", err.msg); return NULL; }
    *n = pn + 12 + dn;
    uint8_t *d = malloc(*n), *chunk = d + ihdr_end;
    if (!d) { CHECK(0, "no memory for a %zu-byte PNG", *n); free(png); return NULL; }
    memcpy(d, png, ihdr_end);
    put_be32(chunk, (uint32_t)dn);
    memcpy(chunk + 4, type, 4);
    memcpy(chunk + 8, data, dn);
    put_be32(chunk + 8 + dn, (uint32_t)crc32(0, chunk + 4, (uInt)(4 + dn)) ^ (bad_crc ? 1u : 0u));
    memcpy(chunk + 12 + dn, png + ihdr_end, pn - ihdr_end);
    free(png);
    size_t at = ihdr_end + 12 + dn;
    while (at + 12 <= *n && memcmp(d + at + 4, "IDAT", 4) != 0) at += 12 + get_be32(d + at);
    if (at + 12 > *n) { CHECK(0, "no IDAT in the test PNG"); free(d); return NULL; }
    d[at + 8 + get_be32(d + at) + 3] ^= 0x01;
    return d;
}

typedef struct { const uint8_t *data; size_t n; } decode_args;

static int decode(void *arg, sg_err *err)
{
    const decode_args *a = arg;
    sg_image img = { 0 };
    int rc = sg_image_decode(a->data, a->n, &img, err);
    if (!rc) sg_image_free(&img);
    return rc;
}

/* The decoder records through the same handlers: a tEXt chunk with a wrong
 * CRC (libpng warns "tEXt: CRC error" and reads on) before an IDAT with a
 * wrong CRC (it fails): the warning follows the error, stderr gets nothing. */
static void test_decode_messages(void)
{
    static const uint8_t text[] = "k\0v";              /* keyword "k", text "v" */
    decode_args a;
    uint8_t *d = png_with_chunk("tEXt", text, 3, 1, &a.n);
    if (!d) return;
    a.data = d;
    sg_err err = { { 0 } };
    char printed[512];
    stderr_capture();
    int rc = decode(&a, &err);
    stderr_captured(printed, sizeof printed);
    CHECK(rc == -1 && !strcmp(err.msg, "PNG: IDAT: CRC error (tEXt: CRC error)") && err.sys_errno == 0,
          "decode: rc %d, \"%s\" (want \"PNG: IDAT: CRC error (tEXt: CRC error)\")", rc, rc ? err.msg : "");
    CHECK(printed[0] == 0, "decode printed on stderr: \"%s\"", printed);
    free(d);
}

/* An allocation libpng does without is not the reason for a later failure:
 * an iTXt chunk of 4 MB in a child with 1 MiB to spare, whose buffer libpng
 * cannot allocate (it warns "iTXt: insufficient memory to read chunk",
 * skips the chunk and reads on), before an IDAT with a wrong CRC. The error
 * is the CRC's, with the warning, and no ENOMEM; it said "PNG: IDAT: CRC
 * error: Cannot allocate memory". */
static void test_decode_recovered_allocation(void)
{
#if defined(__SANITIZE_ADDRESS__)
    SKIP("a failed allocation under ulimit: not in a sanitizer build");
    return;
#endif
    const size_t big = 4000000;   /* under libpng's chunk limit, 8000000 */
    uint8_t *text = calloc(big, 1);
    if (!text) { CHECK(0, "set-up: no memory for %zu bytes", big); return; }
    decode_args a;
    uint8_t *d = png_with_chunk("iTXt", text, big, 0, &a.n);
    free(text);
    if (!d) return;
    a.data = d;
    limited_report r;
    int told = run_limited(1024, decode, &a, &r);
    free(d);
    if (told) return;
    if (!r.limited) { SKIP("a failed allocation: RLIMIT_AS could not be set"); return; }
    const char *want = "PNG: IDAT: CRC error (iTXt: insufficient memory to read chunk)";
    CHECK(r.rc == -1 && !strcmp(r.msg, want) && r.sys_errno == 0,
          "decode with a %zu-byte iTXt and 1 MiB of address space left: rc %d, \"%s\", sys_errno %d (want \"%s\", 0)",
          big, r.rc, r.msg, r.sys_errno, want);
    CHECK(r.printed[0] == 0, "a recovered allocation: printed on stderr: \"%s\"", r.printed);
}

/* A writer that failed in its rows: its later rows and its end report that
 * first failure (libpng's words and ENOMEM), not one of their own. In a
 * child, as test_out_of_memory: a 1000000x2 writer begins, and its first
 * row (libpng's row buffers of 3 MB) finds no memory. err: end's message,
 * or what differed. */
static int fail_then_end(void *arg, sg_err *err)
{
    const encode_args *a = arg;
    sg_png_writer *w;
    if (sg_png_writer_begin(&w, a->w, 2, err)) {
        sg_err_prefix(err, "begin");
        return -2;
    }
    sg_err first = { { 0 } }, later = { { 0 } };
    if (sg_png_writer_rows(w, a->rgb, 1, &first) == 0) {
        sg_png_writer_free(w);
        sg_errf(err, "the first row was encoded");
        return -2;
    }
    int later_rc = sg_png_writer_rows(w, a->rgb, 1, &later);
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = sg_png_writer_end(w, &out, &len, err);
    free(out);
    if (later_rc != -1 || rc != -1 || strcmp(later.msg, first.msg) || strcmp(err->msg, first.msg) ||
        later.sys_errno != first.sys_errno || err->sys_errno != first.sys_errno) {
        char e[sizeof err->msg];
        snprintf(e, sizeof e, "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "first '%s' (%d), later rows '%s' (%d), end '%s' (%d)", first.msg,
                 first.sys_errno, later.msg, later.sys_errno, e, err->sys_errno);
        return -2;
    }
    return rc;
}

static void test_first_failure_reported(void)
{
#if defined(__SANITIZE_ADDRESS__)
    SKIP("a failed writer under ulimit: not in a sanitizer build");
    return;
#endif
    limited_report r;
    if (!run_wide_row_limited(fail_then_end, &r, "a failed writer")) return;
    CHECK(r.rc == -1 && r.sys_errno == ENOMEM && !strncmp(r.msg, "PNG: encoding failed: ", 22),
          "a writer failed in its rows, then ended: rc %d, \"%s\", sys_errno %d", r.rc, r.msg, r.sys_errno);
    CHECK(r.printed[0] == 0, "a failed writer: printed on stderr: \"%s\"", r.printed);
}

/* Giving up on a background encoding: the thread is stopped and joined,
 * whether it has rows to encode, is idle, or was never given any; then the
 * pixels are the caller's again (freed here, for ASan to see a late read). */
static void test_background_abort(void)
{
    enum { W = 300, H = 2000 };
    sg_err err = { { 0 } };
    for (int ready = 0; ready <= H; ready += H / 2) {
        uint8_t *rgb = malloc((size_t)W * H * 3);
        if (!rgb) { CHECK(0, "out of memory"); return; }
        for (size_t i = 0; i < (size_t)W * H * 3; i++) rgb[i] = (uint8_t)(i * 2654435761u >> 24);
        sg_png_background *bg;
        CHECK(sg_png_background_begin(&bg, rgb, W, H, &err) == 0, "%s", err.msg);
        sg_png_background_ready(bg, ready);
        sg_png_background_abort(bg);
        memset(rgb, 0, (size_t)W * H * 3);
        free(rgb);
    }
    sg_png_background_abort(NULL);
}

int main(void)
{
    test_out_of_memory();
    test_first_failure_reported();
    test_background_abort();   /* first: a small heap, so that its 3 MB rows need new address space */
    test_refusal_recorded();
    test_decode_messages();
    test_decode_recovered_allocation();
    check_size(1, 1);
    check_size(37, 23);
    check_size(300, 211);   /* several of the background thread's chunks */

    sg_err err = { { 0 } };
    uint8_t px[2 * 3 * 3] = { 0 }, *out = NULL;
    size_t len = 0;
    sg_png_writer *w;
    CHECK(sg_png_writer_begin(&w, 0, 3, &err) == -1 && strstr(err.msg, "bad size"), "0x3 accepted (%s)", err.msg);
    CHECK(sg_png_writer_begin(&w, 2, 3, &err) == 0, "%s", err.msg);
    CHECK(sg_png_writer_rows(w, px, 4, &err) == -1 && strstr(err.msg, "4 more rows"), "a 4th row accepted (%s)", err.msg);
    CHECK(sg_png_writer_rows(w, px, 2, &err) == 0, "%s", err.msg);
    out = px;   /* a failure leaves *out NULL, not as it was (error.h) */
    len = 5;
    CHECK(sg_png_writer_end(w, &out, &len, &err) == -1 && strstr(err.msg, "2 of 3 rows") && out == NULL && len == 0,
          "ended with a row missing (%s; out %p len %zu)", err.msg, (void *)out, len);
    return check_done();
}

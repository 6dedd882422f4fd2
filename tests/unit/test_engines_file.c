/* The engines file (lib/engines_file.c): the exact text, round trips (knob
 * values recorded, recorded as none, not recorded as in older files), every
 * malformed case with the line it names, accepted variants, header equality,
 * and random mutations and truncations of a valid file (run it under
 * valgrind or -fsanitize=address: parse gets buffers with no NUL after them). */
#include "check.h"
#include "engines_file.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ANEW "(delete the file to choose anew)"
#define HEAD "# stargan-c: the cuDNN engines chosen per convolution shape; a run " \
             "that loads this file makes the same choices\n" \
             "device NVIDIA H200\ncudnn 91900\nlayout nhwc\nprecision tf32\n"
#define C1 "fwd 16 3 128 128 64 7 1 3 4 12\n"
#define C2 "bwd-data 16 64 128 128 128 4 2 1 -1 -1\n"
#define C3 "bwd-filter 16 64 128 128 128 4 2 1 2 9 knobs 0=1 3=-2 17=9223372036854775807\n"
#define C4 "fwd 2 3 32 32 16 4 2 1 0 5 knobs none\n"

static sg_engines_header header_of(const char *device, long long cudnn, const char *layout,
                                   const char *precision)
{
    sg_engines_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.device, sizeof h.device, "%s", device);
    h.cudnn = cudnn;
    snprintf(h.layout, sizeof h.layout, "%s", layout);
    snprintf(h.precision, sizeof h.precision, "%s", precision);
    return h;
}

/* A choice without knob values recorded (as in files before they were). */
static sg_engine_choice choice(int kind, int N, int Ci, int H, int W, int Co, int K, int stride, int pad,
                               int rank, int64_t id)
{
    sg_engine_choice c;
    memset(&c, 0, sizeof c);
    c.kind = kind; c.N = N; c.Ci = Ci; c.H = H; c.W = W; c.Co = Co; c.K = K;
    c.stride = stride; c.pad = pad; c.rank = rank; c.engine_id = id;
    return c;
}

/* c with knob values recorded: n (type, value) pairs from kv (n 0: "knobs none"). */
static sg_engine_choice with_knobs(sg_engine_choice c, int n, const int64_t (*kv)[2])
{
    c.knobs_recorded = 1;
    c.n_knobs = n;
    for (int i = 0; i < n; i++) { c.knobs[i][0] = kv[i][0]; c.knobs[i][1] = kv[i][1]; }
    return c;
}

/* The choices of C3 and C4. */
static const int64_t c3_knobs[3][2] = {{0, 1}, {3, -2}, {17, INT64_MAX}};
static sg_engine_choice c3(void)
{
    return with_knobs(choice(SG_ENGINE_BWD_FILTER, 16, 64, 128, 128, 128, 4, 2, 1, 2, 9), 3, c3_knobs);
}
static sg_engine_choice c4(void) { return with_knobs(choice(SG_ENGINE_FWD, 2, 3, 32, 32, 16, 4, 2, 1, 0, 5), 0, NULL); }

static int choices_equal(const sg_engine_choice *a, const sg_engine_choice *b, int n)
{
    /* no padding: 10 ints, an int64, 2 ints, int64s; unused knob slots are zero */
    for (int i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a)) return 0;
    return 1;
}

/* Parses a copy of text[0..len) in a buffer of exactly len bytes. */
static int parse_exact(const char *text, size_t len, sg_engines_header *h, sg_engine_choice **out, int *n,
                       sg_err *err)
{
    char *buf = malloc(len ? len : 1);
    memcpy(buf, text, len);
    int rc = sg_engines_parse(buf, len, "f.txt", h, out, n, err);
    free(buf);
    return rc;
}

static void test_exact_text_and_round_trip(void)
{
    sg_engines_header h = header_of("NVIDIA H200", 91900, "nhwc", "tf32");
    sg_engine_choice c[4] = {choice(SG_ENGINE_FWD, 16, 3, 128, 128, 64, 7, 1, 3, 4, 12),
                             choice(SG_ENGINE_BWD_DATA, 16, 64, 128, 128, 128, 4, 2, 1, -1, -1), c3(), c4()};
    sg_err err = {{0}};
    size_t len = 0;
    char *text = sg_engines_format(&h, c, 4, &len, &err);
    CHECK(text && len == strlen(text) && !strcmp(text, HEAD C1 C2 C3 C4), "format: got \"%s\" (%s)",
          text ? text : "NULL", err.msg);
    free(text);

    /* every kind, rank -1 and 63, the largest sizes, pad 0, a 64-bit engine id, a name with spaces;
     * knobs: the most a choice may have (the largest type, the extreme values), none, not recorded */
    sg_engines_header h2 = header_of("NVIDIA  H100 80GB HBM3", 8907, "nchw", "bf16");
    int64_t many[SG_ENGINES_MAX_KNOBS][2];
    for (int i = 0; i < SG_ENGINES_MAX_KNOBS; i++) { many[i][0] = SG_ENGINES_MAX_KNOB_TYPE - i; many[i][1] = i - 8; }
    many[0][1] = INT64_MAX;
    many[1][1] = -INT64_MAX;
    sg_engine_choice d[7] = {
        choice(SG_ENGINE_FWD, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
        choice(SG_ENGINE_BWD_DATA, 16, 256, 32, 32, 256, 3, 1, 1, -1, -1),
        with_knobs(choice(SG_ENGINE_BWD_FILTER, 16, 256, 32, 32, 256, 3, 1, 1, 63, INT64_MAX), SG_ENGINES_MAX_KNOBS,
                   (const int64_t (*)[2])many),
        choice(SG_ENGINE_BWD_FILTER, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 7,
               123456789012LL),
        choice(SG_ENGINE_FWD, 16, 256, 32, 32, 256, 3, 1, 1, -1, -1),   /* same shape, other kind */
        c3(), c4(),
    };
    text = sg_engines_format(&h2, d, 7, &len, &err);
    CHECK(text != NULL, "format: %s", err.msg);
    if (!text) return;
    sg_engines_header g;
    sg_engine_choice *out = NULL;
    int n = -1;
    int rc = parse_exact(text, len, &g, &out, &n, &err);
    CHECK(rc == 0, "parse of a formatted file: %s", err.msg);
    CHECK(rc == 0 && n == 7 && choices_equal(out, d, 7), "round trip of 7 choices (n %d)", n);
    CHECK(rc == 0 && n == 7 && out[2].n_knobs == SG_ENGINES_MAX_KNOBS && out[2].knobs[1][1] == -INT64_MAX &&
          out[6].knobs_recorded == 1 && out[6].n_knobs == 0 && out[0].knobs_recorded == 0,
          "round trip: 16 knobs, none, not recorded");
    CHECK(rc == 0 && sg_engines_header_equal(&g, &h2) && !strcmp(g.device, "NVIDIA  H100 80GB HBM3"),
          "header round trip: device \"%s\"", g.device);
    free(out);
    free(text);

    /* a header and no choices */
    text = sg_engines_format(&h, NULL, 0, &len, &err);
    CHECK(text && !strcmp(text, HEAD), "format with no choices: %s", text ? text : err.msg);
    out = (sg_engine_choice *)&out;
    rc = text ? parse_exact(text, len, &g, &out, &n, &err) : -1;
    CHECK(rc == 0 && n == 0 && out == NULL, "no choices: rc %d n %d (%s)", rc, n, err.msg);
    CHECK(rc == 0 && sg_engines_header_equal(&g, &h), "no choices: header");
    free(text);
}

/* text must fail, naming `line` and containing `want`. */
static void expect_bad(const char *text, size_t len, int line, const char *want)
{
    sg_engines_header h;
    sg_engine_choice *out = (sg_engine_choice *)&h;
    int n = -1;
    sg_err err = {{0}};
    int rc = parse_exact(text, len, &h, &out, &n, &err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "f.txt line %d: ", line);
    size_t ml = strlen(err.msg), al = strlen(ANEW);
    int ok = rc == -1 && out == NULL && n == 0 && !strncmp(err.msg, prefix, strlen(prefix)) &&
             strstr(err.msg, want) && ml > al && !strcmp(err.msg + ml - al, ANEW);
    CHECK(ok, "%.*s: rc %d, message \"%s\", want line %d and \"%s\"", (int)(len > 70 ? 70 : len), text, rc,
          err.msg, line, want);
    if (rc == 0) free(out);
}
#define BAD(text, line, want) expect_bad((text), sizeof(text) - 1, (line), (want))

static void test_malformed(void)
{
    const char *choice_form = "expected \"KIND N Ci H W Co K stride pad rank engine_id [knobs ...]\"";
    /* missing or truncated headers */
    BAD("", 1, "expected \"device NAME\", found the end of the file");
    BAD("# c\n", 2, "expected \"device NAME\", found the end of the file");
    BAD("# c\ndevice X\ncudnn 9", 4, "expected \"layout nhwc\" or \"layout nchw\", found the end");
    BAD("# c\ndevice X\ncud", 3, "expected \"cudnn N\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout nhwc\n", 5, "expected \"precision tf32\"");
    BAD("# c\ncudnn 1\nlayout nhwc\nprecision tf32\n", 2, "expected \"device NAME\", found \"cudnn 1\"");
    BAD("# c\ndevice A\nlayout nhwc\ncudnn 1\nprecision tf32\n", 3, "expected \"cudnn N\", found \"layout nhwc\"");
    BAD("# c\ndevice A\n" C1, 3, "expected \"cudnn N\", found \"fwd 16");
    BAD(C1, 1, "expected \"device NAME\"");
    /* duplicate headers */
    BAD("# c\ndevice A\ndevice B\ncudnn 1\nlayout nhwc\nprecision tf32\n", 3,
        "a second \"device\" line (the first is line 2)");
    BAD(HEAD C1 "precision tf32\n", 7, "a second \"precision\" line (the first is line 5)");
    BAD(HEAD "\n\ncudnn 91900\n", 8, "a second \"cudnn\" line (the first is line 3)");
    /* header values */
    BAD("# c\ndevice\n", 2, "expected \"device NAME\"");
    BAD("# c\ndevice   \t\n", 2, "expected \"device NAME\"");
    BAD("# c\ndevice A\001B\n", 2, "expected \"device NAME\" (NAME printable), found \"device A\\x01B\"");
    BAD("# c\ndevice A\rB\n", 2, "expected \"device NAME\" (NAME printable)");
    BAD("# c\ndeviceX\n", 2, "expected \"device NAME\", found \"deviceX\"");
    BAD("# c\ndevice X\ncudnn -1\n", 3, "expected \"cudnn N\" (N a version number), found \"cudnn -1\"");
    BAD("# c\ndevice X\ncudnn\n", 3, "expected \"cudnn N\", found \"cudnn\"");
    BAD("# c\ndevice X\ncudnn 9x\n", 3, "expected \"cudnn N\" (N a version number)");
    BAD("# c\ndevice X\ncudnn 0x10\n", 3, "expected \"cudnn N\" (N a version number)");
    BAD("# c\ndevice X\ncudnn +5\n", 3, "expected \"cudnn N\" (N a version number)");
    BAD("# c\ndevice X\ncudnn 99999999999999999999\n", 3, "expected \"cudnn N\" (N a version number)");
    BAD("# c\ndevice X\ncudnn 9223372036854775808\n", 3, "expected \"cudnn N\" (N a version number)");
    BAD("# c\ndevice X\ncudnn 9 1\n", 3, "expected the end of the line after \"cudnn 9\", found \"1\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout NHWC\n", 4, "expected \"layout nhwc\" or \"layout nchw\", found \"layout NHWC\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout nhwcnhwc\n", 4, "expected \"layout nhwc\" or \"layout nchw\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout\n", 4, "expected \"layout nhwc\" or \"layout nchw\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout nhwc x\n", 4, "expected the end of the line after \"layout nhwc\", found \"x\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout nhwc\nprecision fp16\n", 5, "expected \"precision tf32\", \"precision fp32\" or \"precision bf16\"");
    BAD("# c\ndevice X\ncudnn 9\nlayout nhwc\nprecision tf32 tf32\n", 5, "expected the end of the line after \"precision tf32\"");
    char longname[400];
    snprintf(longname, sizeof longname, "# c\ndevice %0256d\n", 0);
    expect_bad(longname, strlen(longname), 2, "expected \"device NAME\" (NAME 1..255 bytes)");
    /* choices */
    BAD(HEAD "fwdx 16 3 128 128 64 7 1 3 4 12\n", 6, choice_form);
    BAD(HEAD "FWD 16 3 128 128 64 7 1 3 4 12\n", 6, choice_form);
    BAD(HEAD "fwd 16 3 128\n", 6, choice_form);
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4", 6, choice_form);                  /* truncated */
    BAD(HEAD "fwd\n", 6, choice_form);
    BAD(HEAD "16 3 128 128 64 7 1 3 4 12\n", 6, choice_form);
    BAD(HEAD "fwd -16 3 128 128 64 7 1 3 4 12\n", 6, "expected N in 1..1048576, found \"-16\"");
    BAD(HEAD "fwd 16 0 128 128 64 7 1 3 4 12\n", 6, "expected Ci in 1..1048576, found \"0\"");
    BAD(HEAD "fwd 16 3 1048577 128 64 7 1 3 4 12\n", 6, "expected H in 1..1048576, found \"1048577\"");
    BAD(HEAD "fwd 16 3 128 99999999999 64 7 1 3 4 12\n", 6, "expected W in 1..1048576");
    BAD(HEAD "fwd 16 3 128 128 6e4 7 1 3 4 12\n", 6, "expected Co in 1..1048576, found \"6e4\"");
    BAD(HEAD "fwd 16 3 128 128 64 +7 1 3 4 12\n", 6, "expected K in 1..1048576, found \"+7\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 0 3 4 12\n", 6, "expected stride in 1..1048576");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 -1 4 12\n", 6, "expected pad in 0..1048576, found \"-1\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 -2 12\n", 6, "expected rank in -1..63, found \"-2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 64 12\n", 6, "expected rank in -1..63, found \"64\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 -2\n", 6, "expected engine_id -1 or more, found \"-2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 -1 5\n", 6, "expected engine_id -1 with rank -1, found \"5\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 9223372036854775808\n", 6, "expected engine_id -1 or more");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 -\n", 6, "expected engine_id -1 or more, found \"-\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 x\n", 6,
        "expected the end of the line or \"knobs\" after engine_id, found \"x\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 13\n", 6,
        "expected the end of the line or \"knobs\" after engine_id, found \"13\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12x\n", 6, "expected engine_id -1 or more, found \"12x\"");
    BAD(HEAD C1 "fwd 16 3 128 128 64 7 1 3 4 12 # note\n", 7,
        "expected the end of the line or \"knobs\" after engine_id, found \"# note\"");
    /* knob values */
    const char *knob_form = "expected a knob TYPE=VALUE (TYPE 0..2147483647, VALUE an integer)";
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 KNOBS 1=2\n", 6, "or \"knobs\" after engine_id, found \"KNOBS 1=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knob 1=2\n", 6, "or \"knobs\" after engine_id, found \"knob 1=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs\n", 6,
        "expected \"none\" or a knob TYPE=VALUE (TYPE 0..2147483647, VALUE an integer) after \"knobs\", "
        "found the end of the line");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs \t \r\n", 6, "after \"knobs\", found the end of the line");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs none 1=2\n", 6,
        "expected the end of the line after \"knobs none\", found \"1=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs none none\n", 6, "after \"knobs none\", found \"none\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=2 none\n", 6, "found \"none\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs NONE\n", 6, "found \"NONE\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1\n", 6, "found \"1\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=\n", 6, "found \"1=\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs =2\n", 6, "found \"=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1 = 2\n", 6, "found \"1\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=2=3\n", 6, "found \"1=2=3\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1:2\n", 6, "found \"1:2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs -1=2\n", 6, "found \"-1=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 2147483648=2\n", 6, "found \"2147483648=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 0x1=2\n", 6, "found \"0x1=2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=+2\n", 6, "found \"1=+2\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=2.5\n", 6, "found \"1=2.5\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=-\n", 6, "found \"1=-\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=9223372036854775808\n", 6, "found \"1=9223372036854775808\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=-9223372036854775808\n", 6, knob_form);
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=2\x01\n", 6, "found \"1=2\\x01\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 1=2 # note\n", 6, "found \"#\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 3=1 1=2 3=1\n", 6, "a second value for knob type 3, found \"3=1\"");
    BAD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 3=1 03=5\n", 6, "a second value for knob type 3, found \"03=5\"");
    BAD(HEAD "bwd-data 16 64 128 128 128 4 2 1 -1 -1 knobs none\n", 6,
        "expected the end of the line after engine_id -1 (the legacy call has no knobs), found \"knobs none\"");
    BAD(HEAD "bwd-data 16 64 128 128 128 4 2 1 -1 -1 knobs 1=2\n", 6, "(the legacy call has no knobs)");
    BAD(HEAD "bwd-data 16 64 128 128 128 4 2 1 -1 -1 x\n", 6, "(the legacy call has no knobs), found \"x\"");
    char many[600];
    int at = snprintf(many, sizeof many, HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs");
    for (int i = 0; i <= SG_ENGINES_MAX_KNOBS; i++) at += snprintf(many + at, sizeof many - at, " %d=%d", i, i);
    snprintf(many + at, sizeof many - at, "\n");
    expect_bad(many, strlen(many), 6, "expected at most 16 knobs, found another: \"16=16\"");
    BAD(HEAD "fwd 16 3 128\r128 64 7 1 3 4 12\n", 6, "expected H in 1..1048576, found \"128\\r128\"");
    BAD(HEAD C1 "fwd 16 3 128 128 64 7 1 3 4 12\r\r\n", 7, "found \"12\\r\"");
    /* the same kind and shape twice, even with another engine */
    BAD(HEAD C1 C2 "fwd 16 3 128 128 64 7 1 3 5 13\n", 8,
        "a second choice for \"fwd 16 3 128 128 64 7 1 3\" (the first is line 6)");
    BAD(HEAD C2 C1 C1 C2, 8, "a second choice for \"fwd 16 3 128 128 64 7 1 3\" (the first is line 7)");
    /* NUL bytes */
    BAD(HEAD "fwd 16 3 128 128\0 64 7 1 3 4 12\n", 6, "expected text, found a NUL byte");
    BAD("# c\ndevice NVIDIA\0H200\n", 2, "found a NUL byte");
    BAD("#\0\n", 1, "found a NUL byte");
    BAD(HEAD C1 "\0", 7, "found a NUL byte");
    /* the message shows at most 60 bytes of a long line */
    char big[600];
    snprintf(big, sizeof big, HEAD "%0300d\n", 7);
    sg_engines_header h;
    sg_engine_choice *out = NULL;
    int n = 0;
    sg_err err = {{0}};
    int rc = parse_exact(big, strlen(big), &h, &out, &n, &err);
    CHECK(rc == -1 && strstr(err.msg, "...\" " ANEW) && strlen(err.msg) < 300, "long line: %s", err.msg);
}

/* text must parse to the header of HEAD and the given choices. */
static void expect_good(const char *text, size_t len, const char *device, int want_n, const sg_engine_choice *want)
{
    sg_engines_header h;
    sg_engine_choice *out = NULL;
    int n = -1;
    sg_err err = {{0}};
    int rc = parse_exact(text, len, &h, &out, &n, &err);
    CHECK(rc == 0, "%.*s: %s", (int)(len > 70 ? 70 : len), text, err.msg);
    if (rc) return;
    sg_engines_header want_h = header_of(device, 91900, "nhwc", "tf32");
    CHECK(sg_engines_header_equal(&h, &want_h), "%.*s: header device \"%s\" cudnn %lld %s %s", (int)(len > 70 ? 70 : len),
          text, h.device, h.cudnn, h.layout, h.precision);
    CHECK(n == want_n && (n == 0 ? out == NULL : choices_equal(out, want, n)), "%.*s: %d choices, want %d",
          (int)(len > 70 ? 70 : len), text, n, want_n);
    free(out);
}
#define GOOD(text, device, n, want) expect_good((text), sizeof(text) - 1, (device), (n), (want))

static void test_accepted(void)
{
    sg_engine_choice c[2] = {choice(SG_ENGINE_FWD, 16, 3, 128, 128, 64, 7, 1, 3, 4, 12),
                             choice(SG_ENGINE_BWD_DATA, 16, 64, 128, 128, 128, 4, 2, 1, -1, -1)};
    GOOD(HEAD C1 C2, "NVIDIA H200", 2, c);
    GOOD(HEAD, "NVIDIA H200", 0, NULL);
    GOOD(HEAD "\n\n", "NVIDIA H200", 0, NULL);
    GOOD("# c\r\ndevice NVIDIA H200\r\ncudnn 91900\r\nlayout nhwc\r\nprecision tf32\r\n"
         "fwd 16 3 128 128 64 7 1 3 4 12\r\nbwd-data 16 64 128 128 128 4 2 1 -1 -1\r\n", "NVIDIA H200", 2, c);
    GOOD(HEAD C1 "bwd-data 16 64 128 128 128 4 2 1 -1 -1", "NVIDIA H200", 2, c);        /* no final newline */
    GOOD(HEAD C1 "bwd-data 16 64 128 128 128 4 2 1 -1 -1\r", "NVIDIA H200", 2, c);      /* CR, no newline */
    GOOD("# c\ndevice NVIDIA H200\ncudnn 91900\nlayout nhwc\nprecision tf32", "NVIDIA H200", 0, NULL);
    GOOD("device NVIDIA H200\ncudnn 91900\nlayout nhwc\nprecision tf32\n" C1 C2, "NVIDIA H200", 2, c);  /* no comment */
    GOOD("# c\n\n  \t\n# more\ndevice NVIDIA H200\n\ncudnn 91900\n  # indented comment\nlayout nhwc\n"
         "precision tf32\n\n" C1 "\r\n# between\n" C2 "\n", "NVIDIA H200", 2, c);
    GOOD("# c\n  device \t NVIDIA H200 \t\n\tcudnn   91900 \nlayout  nhwc\t\nprecision tf32  \n"
         "  fwd\t16  3 128 128 64 7 1 3 4 12  \n bwd-data 16 64 128 128 128 4 2 1 -1 -1\t\n", "NVIDIA H200", 2, c);
    GOOD("# c\ndevice NVIDIA  H200\ncudnn 91900\nlayout nhwc\nprecision tf32\n", "NVIDIA  H200", 0, NULL);
    GOOD("# c\ndevice GPU \xc3\xa9\xe2\x80\x94 #1\ncudnn 91900\nlayout nhwc\nprecision tf32\n",
         "GPU \xc3\xa9\xe2\x80\x94 #1", 0, NULL);                            /* UTF-8 and '#' in the name */
    GOOD("# c\ndevice NVIDIA H200\ncudnn 0091900\nlayout nhwc\nprecision tf32\n", "NVIDIA H200", 0, NULL);
    /* knob values: any order of types, blanks between pairs, a CR at the end, leading zeros */
    sg_engine_choice k[4] = {c[0], c[1], c3(), c4()};
    GOOD(HEAD C1 C2 C3 C4, "NVIDIA H200", 4, k);
    GOOD(HEAD C1 C2 "bwd-filter 16 64 128 128 128 4 2 1 2 9 knobs\t0=1   3=-2 \t17=9223372036854775807 \r\n"
         "fwd 2 3 32 32 16 4 2 1 0 5   knobs   none \r\n", "NVIDIA H200", 4, k);
    GOOD(HEAD C1 C2 "bwd-filter 16 64 128 128 128 4 2 1 2 9 knobs 00=01 3=-0002 17=9223372036854775807\n" C4,
         "NVIDIA H200", 4, k);
    static const int64_t unsorted_knobs[3][2] = {{17, 0}, {0, 0}, {5, -1}};
    sg_engine_choice unsorted = with_knobs(choice(SG_ENGINE_FWD, 16, 3, 128, 128, 64, 7, 1, 3, 4, 12), 3, unsorted_knobs);
    GOOD(HEAD "fwd 16 3 128 128 64 7 1 3 4 12 knobs 17=0 0=-0 5=-1", "NVIDIA H200", 1, &unsorted);  /* no newline */
    sg_engine_choice big = choice(SG_ENGINE_BWD_FILTER, 1, 1, 1, 1, 1, 1, 1, 0, 63, INT64_MAX);
    GOOD(HEAD "bwd-filter 1 1 1 1 1 1 1 0 63 9223372036854775807\n", "NVIDIA H200", 1, &big);
    char name255[300];
    memset(name255, 'x', 255);
    name255[255] = 0;
    char text[600];
    snprintf(text, sizeof text, "device %s\ncudnn 91900\nlayout nhwc\nprecision tf32\n", name255);
    expect_good(text, strlen(text), name255, 0, NULL);
}

static void test_header(void)
{
    sg_engines_header a = header_of("NVIDIA H200", 91900, "nhwc", "tf32"), b = a;
    CHECK(sg_engines_header_equal(&a, &b), "a header equals its copy");
    b = a; snprintf(b.device, sizeof b.device, "NVIDIA H100");
    CHECK(!sg_engines_header_equal(&a, &b), "device differs");
    b = a; b.cudnn = 91400;
    CHECK(!sg_engines_header_equal(&a, &b), "cudnn differs");
    b = a; snprintf(b.layout, sizeof b.layout, "nchw");
    CHECK(!sg_engines_header_equal(&a, &b), "layout differs");
    b = a; snprintf(b.precision, sizeof b.precision, "fp32");
    CHECK(!sg_engines_header_equal(&a, &b), "precision differs");
    char buf[320];
    CHECK(!strcmp(sg_engines_header_describe(&a, buf, sizeof buf), "NVIDIA H200 / cuDNN 91900 / nhwc / tf32"),
          "describe: %s", buf);
    char small[8];
    CHECK(!strcmp(sg_engines_header_describe(&a, small, sizeof small), "NVIDIA "), "describe truncates: %s", small);

    sg_engines_header h;
    memset(&h, 0, sizeof h);
    sg_engines_header_set_device(&h, "  NVIDIA H200 \n");
    CHECK(!strcmp(h.device, "NVIDIA H200"), "set_device trims: \"%s\"", h.device);
    sg_engines_header_set_device(&h, "A\tB\001C");
    CHECK(!strcmp(h.device, "A?B?C"), "set_device replaces control bytes: \"%s\"", h.device);
    sg_engines_header_set_device(&h, " \t\n");
    CHECK(!strcmp(h.device, "unknown"), "set_device of nothing: \"%s\"", h.device);
    char longname[400];
    memset(longname, 'y', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    longname[254] = ' ';                       /* the cut at 255 leaves a blank at the end: dropped */
    sg_engines_header_set_device(&h, longname);
    CHECK(strlen(h.device) == 254 && h.device[253] == 'y', "set_device cuts to 255: %zu", strlen(h.device));
    /* whatever set_device makes, the file holds */
    snprintf(h.layout, sizeof h.layout, "nchw");
    snprintf(h.precision, sizeof h.precision, "fp32");
    h.cudnn = 8;
    const char *names[] = {"\001\002x\003", "  a  b  ", "\xff\xfe", "z", longname};
    for (int i = 0; i < 5; i++) {
        sg_engines_header_set_device(&h, names[i]);
        size_t len;
        sg_err err = {{0}};
        char *t = sg_engines_format(&h, NULL, 0, &len, &err);
        sg_engines_header g;
        sg_engine_choice *out = NULL;
        int n = 0;
        CHECK(t && parse_exact(t, len, &g, &out, &n, &err) == 0 && sg_engines_header_equal(&g, &h),
              "device \"%s\" round trip: %s", h.device, err.msg);
        free(t);
    }
}

/* format refuses what parse would refuse, so a saved file always loads */
static void expect_unformattable(const sg_engines_header *h, const sg_engine_choice *c, int n, const char *what)
{
    size_t len = 0;
    sg_err err = {{0}};
    char *t = sg_engines_format(h, c, n, &len, &err);
    CHECK(t == NULL && err.msg[0], "format of %s: should fail, got %s", what, t ? t : "NULL");
    free(t);
}

static void test_format_refuses(void)
{
    sg_engines_header ok = header_of("NVIDIA H200", 91900, "nhwc", "tf32"), h;
    sg_engine_choice c = choice(SG_ENGINE_FWD, 16, 3, 128, 128, 64, 7, 1, 3, 4, 12), d;
    h = ok; h.device[0] = 0;                  expect_unformattable(&h, &c, 1, "an empty device");
    h = ok; strcpy(h.device, "A\nB");         expect_unformattable(&h, &c, 1, "a device with a newline");
    h = ok; strcpy(h.device, " A");           expect_unformattable(&h, &c, 1, "a device with a leading blank");
    h = ok; memset(h.device, 'x', sizeof h.device); expect_unformattable(&h, &c, 1, "an unterminated device");
    h = ok; h.cudnn = -1;                     expect_unformattable(&h, &c, 1, "cudnn -1");
    h = ok; strcpy(h.layout, "NHWC");         expect_unformattable(&h, &c, 1, "layout NHWC");
    h = ok; strcpy(h.precision, "fp16");      expect_unformattable(&h, &c, 1, "precision fp16");
    expect_unformattable(&ok, &c, -1, "n -1");
    d = c; d.kind = 3;                        expect_unformattable(&ok, &d, 1, "kind 3");
    d = c; d.N = 0;                           expect_unformattable(&ok, &d, 1, "N 0");
    d = c; d.pad = -1;                        expect_unformattable(&ok, &d, 1, "pad -1");
    d = c; d.W = (1 << 20) + 1;               expect_unformattable(&ok, &d, 1, "W over 1<<20");
    d = c; d.rank = 64;                       expect_unformattable(&ok, &d, 1, "rank 64");
    d = c; d.rank = -1;                       expect_unformattable(&ok, &d, 1, "rank -1 with an engine");
    d = c; d.engine_id = -2;                  expect_unformattable(&ok, &d, 1, "engine -2");
    sg_engine_choice two[2] = {c, c};
    two[1].rank = 5;
    expect_unformattable(&ok, two, 2, "the same kind and shape twice");
    /* knob values that no file text gives */
    sg_engine_choice k = c3();
    d = k; d.rank = -1; d.engine_id = -1;     expect_unformattable(&ok, &d, 1, "knobs on the legacy call");
    d = c4(); d.rank = -1; d.engine_id = -1;  expect_unformattable(&ok, &d, 1, "knobs none on the legacy call");
    d = k; d.knobs_recorded = 0;              expect_unformattable(&ok, &d, 1, "knobs not recorded but given");
    d = k; d.knobs_recorded = 2;              expect_unformattable(&ok, &d, 1, "knobs_recorded 2");
    d = k; d.n_knobs = -1;                    expect_unformattable(&ok, &d, 1, "n_knobs -1");
    d = k; d.n_knobs = SG_ENGINES_MAX_KNOBS + 1; expect_unformattable(&ok, &d, 1, "n_knobs 17");
    d = k; d.knobs[0][0] = -1;                expect_unformattable(&ok, &d, 1, "knob type -1");
    d = k; d.knobs[0][0] = (int64_t)SG_ENGINES_MAX_KNOB_TYPE + 1; expect_unformattable(&ok, &d, 1, "knob type 2^31");
    d = k; d.knobs[2][0] = d.knobs[0][0];     expect_unformattable(&ok, &d, 1, "a knob type twice");
    d = k; d.knobs[1][1] = INT64_MIN;         expect_unformattable(&ok, &d, 1, "knob value INT64_MIN");
    d = k; d.knobs[3][1] = 1;                 expect_unformattable(&ok, &d, 1, "an unused knob slot not zero");
    d = k; d.knobs[SG_ENGINES_MAX_KNOBS - 1][0] = 4; expect_unformattable(&ok, &d, 1, "the last knob slot not zero");
    d = c; d.knobs[0][1] = 1;                 expect_unformattable(&ok, &d, 1, "a knob value, not recorded");
}

/* ---- random mutations --------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16) % n;
}

static int choice_valid(const sg_engine_choice *q)
{
    int v[8] = {q->N, q->Ci, q->H, q->W, q->Co, q->K, q->stride, q->pad};
    for (int i = 0; i < 8; i++)
        if (v[i] < (i == 7 ? 0 : 1) || v[i] > SG_ENGINES_MAX_DIM) return 0;
    if ((q->knobs_recorded != 0 && q->knobs_recorded != 1) || q->n_knobs < 0 || q->n_knobs > SG_ENGINES_MAX_KNOBS ||
        (q->knobs_recorded && q->rank < 0) || (!q->knobs_recorded && q->n_knobs))
        return 0;
    for (int i = 0; i < SG_ENGINES_MAX_KNOBS; i++) {
        if (i >= q->n_knobs ? q->knobs[i][0] || q->knobs[i][1]
                            : q->knobs[i][0] < 0 || q->knobs[i][0] > SG_ENGINES_MAX_KNOB_TYPE)
            return 0;
        for (int j = 0; j < i && i < q->n_knobs; j++)
            if (q->knobs[j][0] == q->knobs[i][0]) return 0;
    }
    return q->kind >= 0 && q->kind <= 2 && q->rank >= -1 && q->rank <= SG_ENGINES_MAX_RANK &&
           q->engine_id >= -1 && (q->rank >= 0 || q->engine_id == -1);
}

/* One parse of a mutated text: either an error that names the file and a
 * line, or choices that are all valid and format back to a file that parses
 * to the same. Returns 1 when that holds. */
static int mutant_ok(const char *text, size_t len, int *parsed)
{
    sg_engines_header h;
    sg_engine_choice *out = NULL;
    int n = -1;
    sg_err err = {{0}};
    int rc = parse_exact(text, len, &h, &out, &n, &err);
    if (rc == -1) {
        size_t ml = strlen(err.msg), al = strlen(ANEW);
        return out == NULL && n == 0 && (!strncmp(err.msg, "f.txt line ", 11) || !strcmp(err.msg, "out of memory")) &&
               ml > al && !strcmp(err.msg + ml - al, ANEW);
    }
    if (rc != 0 || n < 0 || (n == 0) != (out == NULL)) return 0;
    (*parsed)++;
    int ok = 1;
    for (int i = 0; i < n; i++) ok &= choice_valid(&out[i]);
    size_t l2;
    char *t2 = sg_engines_format(&h, out, n, &l2, &err);
    if (!t2) ok = 0;
    else {
        sg_engines_header h2;
        sg_engine_choice *o2 = NULL;
        int n2 = -1;
        ok &= parse_exact(t2, l2, &h2, &o2, &n2, &err) == 0 && n2 == n && sg_engines_header_equal(&h, &h2) &&
              (n == 0 || choices_equal(out, o2, n));
        free(o2);
        free(t2);
    }
    free(out);
    return ok;
}

static void test_mutations(void)
{
    const char *valid = HEAD C1 C2 "bwd-filter 16 64 128 128 128 4 2 1 17 40\n"
                        "fwd 16 256 32 32 256 3 1 1 -1 -1\n" C3 C4;
    size_t vlen = strlen(valid);
    /* every prefix: cut inside a line is an error or (in the last field) a smaller number */
    int bad = 0, parsed = 0;
    for (size_t cut = 0; cut <= vlen; cut++) bad += !mutant_ok(valid, cut, &parsed);
    CHECK(bad == 0, "%d of %zu truncations misbehaved", bad, vlen + 1);
    CHECK(parsed > 0 && parsed < (int)vlen, "truncations: %d parsed", parsed);

    static const char alphabet[] = "\0\n\r \t-#0123456789fwdbatxX\x7f\xff=knobse";
    char *buf = malloc(2 * vlen + 64);
    bad = 0; parsed = 0;
    int rounds = 20000;
    for (int r = 0; r < rounds; r++) {
        size_t len = vlen;
        memcpy(buf, valid, vlen);
        int edits = 1 + (int)rnd(4);
        for (int e = 0; e < edits; e++) {
            int op = (int)rnd(5);
            char ch = rnd(4) ? alphabet[rnd(sizeof alphabet - 1)] : (char)rnd(256);
            size_t at = rnd((uint32_t)len + 1);
            if (op == 0 && at < len) buf[at] = ch;                                  /* replace */
            else if (op == 1 && len < 2 * vlen) {                                     /* insert */
                memmove(buf + at + 1, buf + at, len - at); buf[at] = ch; len++;
            } else if (op == 2 && at < len) {                                         /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1); len--;
            } else if (op == 3) len = at;                                             /* truncate */
            else if (op == 4 && at < len) {                                           /* repeat a span */
                size_t span = rnd(40) + 1;
                if (at + span > len) span = len - at;
                if (len + span <= 2 * vlen) { memmove(buf + at + span, buf + at, len - at); len += span; }
            }
        }
        if (!mutant_ok(buf, len, &parsed)) {
            if (bad++ < 5) printf("mutant %d misbehaved: \"%.*s\"\n", r, (int)len, buf);
        }
    }
    free(buf);
    CHECK(bad == 0, "%d of %d mutated files misbehaved", bad, rounds);
    CHECK(parsed > 0 && parsed < rounds, "mutations: %d of %d parsed (some should, most should not)", parsed, rounds);
}

int main(void)
{
    test_exact_text_and_round_trip();
    test_malformed();
    test_accepted();
    test_header();
    test_format_refuses();
    test_mutations();
    return check_done();
}

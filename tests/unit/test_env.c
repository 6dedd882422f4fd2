/* lib/env.c: the SG_* switches take only their listed values; the CUDA
 * backend's switches mean what each value meant before they were checked
 * (every value bench/train-speed and tests/gpu/run pass); the model's two
 * switches refuse a typo when the model is created. */
#include "check.h"
#include "env.h"
#include "model.h"
#include "backend.h"
#include <stdlib.h>
#include <string.h>

static void test_choice(void)
{
    static const char *const modes[] = {"legacy", "find", "timed"};
    sg_err err;
    unsetenv("SG_TEST_SWITCH");
    CHECK(sg_env_choice("SG_TEST_SWITCH", modes, 3, 2, &err) == 2, "unset: the default");
    setenv("SG_TEST_SWITCH", "", 1);
    CHECK(sg_env_choice("SG_TEST_SWITCH", modes, 3, 2, &err) == 2, "empty: the default");
    setenv("SG_TEST_SWITCH", "find", 1);
    CHECK(sg_env_choice("SG_TEST_SWITCH", modes, 3, 2, &err) == 1, "find");
    const char *bad[] = {"Find", "find ", "2", "legacy\x1b[31m"};
    const char *want[] = {"SG_TEST_SWITCH=Find: expected legacy, find or timed",
                          "SG_TEST_SWITCH=find : expected legacy, find or timed",
                          "SG_TEST_SWITCH=2: expected legacy, find or timed",
                          "SG_TEST_SWITCH=legacy\\x1b[31m: expected legacy, find or timed"};
    for (int i = 0; i < 4; i++) {
        setenv("SG_TEST_SWITCH", bad[i], 1);
        int rc = sg_env_choice("SG_TEST_SWITCH", modes, 3, 2, &err);
        CHECK(rc == -1 && !strcmp(err.msg, want[i]), "'%s': rc %d '%s'", bad[i], rc, rc < 0 ? err.msg : "");
    }
    static const char *const off_on[] = {"0", "1"};
    setenv("SG_TEST_SWITCH", "yes", 1);
    int rc = sg_env_choice("SG_TEST_SWITCH", off_on, 2, 0, &err);
    CHECK(rc == -1 && !strcmp(err.msg, "SG_TEST_SWITCH=yes: expected 0 or 1"), "two choices: '%s'",
          rc < 0 ? err.msg : "");
    unsetenv("SG_TEST_SWITCH");
}

static void test_long(void)
{
    sg_err err;
    long v = 0;
    unsetenv("SG_TEST_MIB");
    CHECK(sg_env_long("SG_TEST_MIB", 1, 65536, 256, &v, &err) == 0 && v == 256, "unset: %ld", v);
    setenv("SG_TEST_MIB", "1024", 1);
    CHECK(sg_env_long("SG_TEST_MIB", 1, 65536, 256, &v, &err) == 0 && v == 1024, "1024: %ld", v);
    setenv("SG_TEST_MIB", "65536", 1);
    CHECK(sg_env_long("SG_TEST_MIB", 1, 65536, 256, &v, &err) == 0 && v == 65536, "the top: %ld", v);
    const char *bad[] = {"0", "65537", "1g", "-5", "99999999999999999999", " "};
    for (int i = 0; i < 6; i++) {
        setenv("SG_TEST_MIB", bad[i], 1);
        int rc = sg_env_long("SG_TEST_MIB", 1, 65536, 256, &v, &err);
        char want[128];
        snprintf(want, sizeof want, "SG_TEST_MIB=%s: expected an integer from 1 to 65536", bad[i]);
        CHECK(rc == -1 && !strcmp(err.msg, want), "'%s': rc %d '%s'", bad[i], rc, rc < 0 ? err.msg : "");
    }
    unsetenv("SG_TEST_MIB");
}

static const char *const cuda_vars[] = {"SG_CUDNN_WORKSPACE_MIB", "SG_CUDNN_SEARCH", "SG_CUDNN_FIND",
                                        "SG_CUDA_PAD3", "SG_CUDA_LANE_HANDLES", "SG_CUDNN_RTC",
                                        "SG_CUDA_GRAPHS", "SG_CUDA_LAYOUT", "SG_CUDA_LANE_PRIORITY",
                                        "SG_CUDA_IN_FUSED", "SG_CUDNN_NONDET", "SG_CUDA_GEMM_MAX_PIXELS"};

static void test_cuda_switches(void)
{
    static const struct {
        const char *var, *value;
        size_t workspace_mib;
        int search, pad3, shared_cudnn, allow_rtc, graphs, nhwc, lane_priority, in_fused;
    } cases[] = {
        /* unset: the defaults (256 MiB, timed, no padding, a handle per lane, graphs, NHWC, priorities,
         * one-pass instance norm) */
        {NULL, NULL, 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_WORKSPACE_MIB", "1024", 1024, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_WORKSPACE_MIB", "256", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_SEARCH", "legacy", 256, 0, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_SEARCH", "find", 256, 1, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_SEARCH", "heuristic", 256, 2, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_SEARCH", "timed", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_FIND", "1", 256, 1, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_FIND", "0", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDA_PAD3", "0", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDA_PAD3", "4", 256, 3, 4, 0, 0, 1, 1, 1, 1},
        {"SG_CUDA_PAD3", "8", 256, 3, 8, 0, 0, 1, 1, 1, 1},
        {"SG_CUDA_LANE_HANDLES", "1", 256, 3, 0, 1, 0, 1, 1, 1, 1},
        {"SG_CUDA_LANE_HANDLES", "2", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDNN_RTC", "1", 256, 3, 0, 0, 1, 1, 1, 1, 1},
        {"SG_CUDA_GRAPHS", "0", 256, 3, 0, 0, 0, 0, 1, 1, 1},
        {"SG_CUDA_GRAPHS", "1", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDA_LAYOUT", "nchw", 256, 3, 0, 0, 0, 1, 0, 1, 1},
        {"SG_CUDA_LAYOUT", "nhwc", 256, 3, 0, 0, 0, 1, 1, 1, 1},
        {"SG_CUDA_LANE_PRIORITY", "0", 256, 3, 0, 0, 0, 1, 1, 0, 1},
        {"SG_CUDA_IN_FUSED", "0", 256, 3, 0, 0, 0, 1, 1, 1, 0},
        {"SG_CUDA_IN_FUSED", "1", 256, 3, 0, 0, 0, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cuda_vars / sizeof cuda_vars[0]; i++) unsetenv(cuda_vars[i]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].var) setenv(cases[i].var, cases[i].value, 1);
        sg_cuda_switches sw;
        sg_err err;
        int rc = sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err);
        CHECK(rc == 0 && sw.workspace_limit == cases[i].workspace_mib << 20 && sw.search == cases[i].search &&
                  sw.pad3 == cases[i].pad3 && sw.shared_cudnn == cases[i].shared_cudnn &&
                  sw.allow_rtc == cases[i].allow_rtc && sw.graphs == cases[i].graphs && sw.nhwc == cases[i].nhwc &&
                  sw.lane_priority == cases[i].lane_priority && sw.in_fused == cases[i].in_fused,
              "%s=%s: rc %d '%s' workspace %zu search %d pad3 %d shared %d rtc %d graphs %d nhwc %d priority %d "
              "in_fused %d",
              cases[i].var ? cases[i].var : "(none)", cases[i].value ? cases[i].value : "", rc, rc ? err.msg : "",
              sw.workspace_limit >> 20, sw.search, sw.pad3, sw.shared_cudnn, sw.allow_rtc, sw.graphs, sw.nhwc,
              sw.lane_priority, sw.in_fused);
        if (cases[i].var) unsetenv(cases[i].var);
    }
    /* SG_CUDNN_FIND=1 wins over SG_CUDNN_SEARCH, as before */
    setenv("SG_CUDNN_SEARCH", "timed", 1);
    setenv("SG_CUDNN_FIND", "1", 1);
    sg_cuda_switches sw;
    sg_err err;
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err) == 0 && sw.search == 1, "FIND=1 with SEARCH=timed: search %d", sw.search);
    unsetenv("SG_CUDNN_SEARCH");
    unsetenv("SG_CUDNN_FIND");
    /* the caller's default (sg-sample's legacy) where SG_CUDNN_SEARCH is
     * unset or empty; the variable and SG_CUDNN_FIND=1 still win */
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_LEGACY, &err) == 0 && sw.search == SG_CUDNN_SEARCH_LEGACY,
          "default legacy, unset: search %d", sw.search);
    setenv("SG_CUDNN_SEARCH", "", 1);
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_LEGACY, &err) == 0 && sw.search == SG_CUDNN_SEARCH_LEGACY,
          "default legacy, empty: search %d", sw.search);
    setenv("SG_CUDNN_SEARCH", "heuristic", 1);
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_LEGACY, &err) == 0 && sw.search == SG_CUDNN_SEARCH_HEURISTIC,
          "default legacy, SEARCH=heuristic: search %d", sw.search);
    unsetenv("SG_CUDNN_SEARCH");
    setenv("SG_CUDNN_FIND", "1", 1);
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_LEGACY, &err) == 0 && sw.search == SG_CUDNN_SEARCH_FIND,
          "default legacy, FIND=1: search %d", sw.search);
    unsetenv("SG_CUDNN_FIND");
    /* a value outside the choices is an error naming them */
    setenv("SG_CUDA_IN_FUSED", "2", 1);
    int rc = sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err);
    CHECK(rc == -1 && !strcmp(err.msg, "SG_CUDA_IN_FUSED=2: expected 0 or 1"), "SG_CUDA_IN_FUSED=2: rc %d '%s'", rc,
          rc ? err.msg : "");
    unsetenv("SG_CUDA_IN_FUSED");
    /* SG_CUDNN_NONDET: off unless 1 */
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err) == 0 && sw.allow_nondet == 0, "SG_CUDNN_NONDET unset: %d", sw.allow_nondet);
    setenv("SG_CUDNN_NONDET", "1", 1);
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err) == 0 && sw.allow_nondet == 1, "SG_CUDNN_NONDET=1: %d", sw.allow_nondet);
    setenv("SG_CUDNN_NONDET", "yes", 1);
    rc = sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err);
    CHECK(rc == -1 && !strcmp(err.msg, "SG_CUDNN_NONDET=yes: expected 0 or 1"), "SG_CUDNN_NONDET=yes: rc %d '%s'", rc,
          rc ? err.msg : "");
    unsetenv("SG_CUDNN_NONDET");
    /* SG_CUDA_GEMM_MAX_PIXELS: 0 (off) unless set, an integer from 0 to 1048576 */
    CHECK(sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err) == 0 && sw.gemm_max_pixels == 0, "SG_CUDA_GEMM_MAX_PIXELS unset: %ld",
          sw.gemm_max_pixels);
    static const char *const gemm_ok[][2] = {{"0", "0"}, {"16", "16"}, {"1048576", "1048576"}};
    for (size_t i = 0; i < sizeof gemm_ok / sizeof gemm_ok[0]; i++) {
        setenv("SG_CUDA_GEMM_MAX_PIXELS", gemm_ok[i][0], 1);
        rc = sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err);
        CHECK(rc == 0 && sw.gemm_max_pixels == atol(gemm_ok[i][1]), "SG_CUDA_GEMM_MAX_PIXELS=%s: rc %d, %ld",
              gemm_ok[i][0], rc, sw.gemm_max_pixels);
    }
    static const char *const gemm_bad[] = {"-1", "1048577", "16px", "x"};
    for (size_t i = 0; i < sizeof gemm_bad / sizeof gemm_bad[0]; i++) {
        setenv("SG_CUDA_GEMM_MAX_PIXELS", gemm_bad[i], 1);
        rc = sg_cuda_switches_read(&sw, SG_CUDNN_SEARCH_DEFAULT, &err);
        char want[128];
        snprintf(want, sizeof want, "SG_CUDA_GEMM_MAX_PIXELS=%s: expected an integer from 0 to 1048576", gemm_bad[i]);
        CHECK(rc == -1 && !strcmp(err.msg, want), "SG_CUDA_GEMM_MAX_PIXELS=%s: rc %d '%s'", gemm_bad[i], rc,
              rc ? err.msg : "");
    }
    unsetenv("SG_CUDA_GEMM_MAX_PIXELS");
}

static void test_model_switches(void)
{
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(1, &err);
    CHECK(be != NULL, "cpu backend: %s", be ? "" : err.msg);
    if (!be) return;
    sg_model_config cfg = { .image_size = 16, .n_datasets = 1, .label_dim = { 3 }, .g_conv_dim = 4, .g_repeat = 1,
                            .d_conv_dim = 4, .d_repeat = 2, .batch = 2, .lambda_cls = 1, .lambda_rec = 10,
                            .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
    const char *vars[] = {"SG_OVERLAP_G", "SG_G_TAPE_REUSE", "SG_OVERLAP_G_WGRAD"};
    for (int i = 0; i < 3; i++) {
        sg_model *m = NULL;
        setenv(vars[i], "true", 1);
        int rc = sg_model_create(&m, &cfg, be, 1, &err);
        char want[96];
        snprintf(want, sizeof want, "model: %s=true: expected 0 or 1", vars[i]);
        CHECK(rc == -1 && !m && !strcmp(err.msg, want), "%s=true: rc %d '%s'", vars[i], rc, rc < 0 ? err.msg : "");
        sg_model_free(m);
        setenv(vars[i], i == 0 ? "1" : "0", 1);
        rc = sg_model_create(&m, &cfg, be, 1, &err);
        CHECK(rc == 0 && m, "%s=%s: %s", vars[i], i == 0 ? "1" : "0", rc ? err.msg : "");
        sg_model_free(m);
        unsetenv(vars[i]);
    }
    sg_backend_destroy(be);
}

int main(void)
{
    test_choice();
    test_long();
    test_cuda_switches();
    test_model_switches();
    return check_done();
}

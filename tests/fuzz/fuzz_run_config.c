/* lib/run_config.c: a run's config.json (sg-train --resume, sg-sample,
 * sg-plot, celeb-dump read it), through every reader of it: the options and
 * shard paths (sg_run_config_read), the starts it records
 * (sg_run_keep_sessions), the newer-format check of --force and the message
 * about the first checkpoint. The readers take a run directory, so the input
 * is written to RUN/config.json in a directory of this process's own under
 * /dev/shm (or TMPDIR). */
#include "fuzz.h"
#include "run_config.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char run_dir[256], config[300];

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/sg-fuzz-run.%d", base, (int)getpid());
    mkdir(run_dir, 0700);
    snprintf(config, sizeof config, "%s/config.json", run_dir);
}

static void cleanup(void)
{
    unlink(config);
    rmdir(run_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!run_dir[0]) {
        setup();
        atexit(cleanup);
    }
    int fd = open(config, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd)) abort();
    sg_err err = {{0}};
    sg_train_options o;
    char **paths;
    int n;
    if (fuzz_verdict(sg_run_config_read(run_dir, &o, &paths, &n, &err), &err) == 0) {
        FUZZ_CHECK(n >= 1 && paths != NULL, "%d shard paths", n);
        for (int i = 0; i < n; i++) FUZZ_CHECK(paths[i] != NULL, "shard path %d", i);
        sg_run_free_paths(paths, n);
    } else {
        FUZZ_CHECK(paths == NULL && n == 0, "a failed read left %d paths", n);
    }
    sg_train_options now;
    sg_train_options_default(&now);
    for (int64_t iter = 0; iter <= 1000; iter += 1000) {
        sg_run_record r;
        memset(&r, 0, sizeof r);
        fuzz_verdict(sg_run_keep_sessions(run_dir, 2, iter, &now, &r, &err), &err);
        sg_buf_free(&r.sessions_kept);
    }
    fuzz_verdict(sg_run_refuse_newer(run_dir, &err), &err);
    char msg[512];
    sg_run_first_save(run_dir, msg, sizeof msg);
    return 0;
}

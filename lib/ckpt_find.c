#include "ckpt_find.h"
#include "fileio.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int sg_ckpt_arg_is_run(const char *arg)
{
    return sg_path_is_dir(arg);
}

int sg_ckpt_find_generator(const char *arg, char *path, size_t cap, sg_ckpt_info *info, sg_err *err)
{
    if (sg_path_is_dir(arg)) {
        int64_t named = -1;   /* the step latest named at the previous try */
        for (int tries = 0;; tries++) {
            int64_t step;
            if (sg_ckpt_latest(arg, &step, err)) return -1;
            if (step < 0) return sg_errf(err, "%s: no checkpoint found (no %s/latest)", arg, arg);
            sg_ckpt_path(path, cap, arg, step, "G");
            if (!sg_ckpt_read_info(path, info, err)) return 0;
            if (!sg_path_missing(path)) return -1;   /* an error other than the file vanishing */
            /* Gone between reading latest and opening the file (sg-train --keep
             * deleted it): latest has moved on; read it again. The same step
             * again, or too many tries: the run is missing its checkpoint. */
            if (step == named || tries + 1 >= SG_CKPT_FIND_TRIES)
                return sg_errf(err, "%s: %s/latest names %s, which is missing", arg, arg, path);
            named = step;
        }
    }
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) snprintf(path, cap, "%s", arg);
    else if (snprintf(path, cap, "%s-G.safetensors", arg), stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return sg_errf(err, "%s: no checkpoint found (expected a run directory, RUN/ckpt/NNNNNN or an "
                       "NNNNNN-G.safetensors file)", arg);
    return sg_ckpt_read_info(path, info, err);
}

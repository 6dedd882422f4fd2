#include "cgroup.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>

int sg_cgroup_read(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    int bad = ferror(f);
    fclose(f);
    buf[n] = 0;
    return bad ? -1 : 0;
}

void sg_cgroup_walk(const char *root, const char *proc_cgroup, const char *controller, sg_cgroup_visit *visit,
                    void *arg)
{
    size_t clen = strlen(controller);
    /* lines "ID:CONTROLLERS:PATH": v2's "0::PATH"; a v1 hierarchy's
     * "ID:cpu,cpuacct:PATH" (its list holds controller) */
    for (const char *line = proc_cgroup; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2 && c2[1] == '/') {
            int v2 = c2 == c1 + 1, v1 = 0;
            for (const char *c = c1 + 1; c < c2;) {
                size_t n = strcspn(c, ",:");
                if (n == clen && memcmp(c, controller, clen) == 0) v1 = 1;
                c += n + (c[n] == ',');
            }
            char dir[PATH_MAX];
            size_t path_len = len - (size_t)(c2 + 1 - line);
            int root_len = snprintf(dir, sizeof dir, "%s%s%s", root, v1 ? "/" : "", v1 ? controller : "");
            if ((v1 || v2) && root_len > 0 && (size_t)root_len + path_len < sizeof dir) {
                memcpy(dir + root_len, c2 + 1, path_len);
                size_t end = (size_t)root_len + path_len;
                while (end > (size_t)root_len && dir[end - 1] == '/') end--;   /* "/": the root itself */
                dir[end] = 0;
                for (;;) {   /* the cgroup, then its parents up to the mount root */
                    visit(dir, v1, arg);
                    char *slash = strrchr(dir + root_len, '/');
                    if (!slash) break;
                    *slash = 0;
                }
            }
        }
        line = eol ? eol + 1 : NULL;
    }
}

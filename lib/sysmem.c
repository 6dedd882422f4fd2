#include "sysmem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first number in path, or in its line starting with key (key NULL:
 * the file's first word), into *v; 0, or -1 when there is none ("max"). */
static int read_number(const char *path, const char *key, uint64_t *v)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    int rc = -1;
    size_t klen = key ? strlen(key) : 0;
    while (rc < 0 && fgets(line, sizeof line, f)) {
        unsigned long long x;
        if (key && (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != ':'))) continue;
        const char *p = line + klen + (key && line[klen] == ':');
        if (sscanf(p, "%llu", &x) == 1) { *v = x; rc = 0; }
        if (!key) break;
    }
    fclose(f);
    return rc;
}

void sg_sysmem_read(sg_sysmem *m)
{
    memset(m, 0, sizeof *m);
    const char *test = getenv("SG_TEST_MEMORY_KIB");   /* the tests' small machine */
    unsigned long long lim_kib, avail_kib;
    char end;
    if (test && sscanf(test, "%llu,%llu%c", &lim_kib, &avail_kib, &end) == 2) {
        m->limit = (uint64_t)lim_kib << 10;
        m->available = (uint64_t)avail_kib << 10;
        return;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    m->limit = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
    uint64_t kib;
    if (read_number("/proc/meminfo", "MemAvailable", &kib) == 0) m->available = kib << 10;
    /* v2 then v1: the limit, the usage, and the usage's file cache that
     * can be dropped (what docker stats leaves out) */
    static const char *const files[2][3] = {
        {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat"},
        {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
         "/sys/fs/cgroup/memory/memory.stat"}};
    static const char *const inactive_file[2] = {"inactive_file", "total_inactive_file"};
    for (int k = 0; k < 2; k++) {
        uint64_t max, used, cache = 0;
        if (read_number(files[k][0], NULL, &max) || max == 0) continue;   /* none, or v2's "max" */
        if (m->limit && max >= m->limit) continue;   /* no lower than the machine's: v1's "no limit" is 2^63 */
        m->limit = max;
        m->cgroup = 1;
        if (read_number(files[k][1], NULL, &used) == 0) {
            read_number(files[k][2], inactive_file[k], &cache);
            used = cache < used ? used - cache : 0;
            uint64_t left = used < max ? max - used : 0;
            if (m->available == 0 || left < m->available) m->available = left ? left : 1;   /* 0: unknown */
        }
    }
    if (m->available > m->limit && m->limit) m->available = m->limit;
}

const char *sg_size_text(char out[24], uint64_t bytes)
{
    double mb = (double)bytes / 1e6, gb = (double)bytes / 1e9;   /* two digits at least */
    if (bytes < 1000000) snprintf(out, 24, "%.0f kB", (double)bytes / 1e3);
    else if (gb < 1) snprintf(out, 24, mb < 10 ? "%.1f MB" : "%.0f MB", mb);
    else snprintf(out, 24, gb < 10 ? "%.1f GB" : "%.0f GB", gb);
    return out;
}

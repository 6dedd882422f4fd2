#include "sysmem.h"
#include "cgroup.h"
#include <limits.h>
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
    unsigned long long lim_kib, avail_kib, swap_kib = 0;
    char end;
    if (test && (sscanf(test, "%llu,%llu%c", &lim_kib, &avail_kib, &end) == 2 ||
                 sscanf(test, "%llu,%llu,%llu%c", &lim_kib, &avail_kib, &swap_kib, &end) == 3)) {
        m->limit = (uint64_t)lim_kib << 10;
        m->available = (uint64_t)avail_kib << 10;
        m->swap = (uint64_t)swap_kib << 10;
        return;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    m->limit = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
    uint64_t kib;
    if (read_number("/proc/meminfo", "MemAvailable", &kib) == 0) m->available = kib << 10;
    if (read_number("/proc/meminfo", "SwapTotal", &kib) == 0) m->swap = kib << 10;
    char text[8192];
    /* unreadable (no /proc): the mount roots, a container's own cgroups */
    if (sg_cgroup_read("/proc/self/cgroup", text, sizeof text) != 0)
        snprintf(text, sizeof text, "0::/\n0:memory:/\n");
    sg_sysmem_cgroup(m, "/sys/fs/cgroup", text);
}

typedef struct {
    sg_sysmem *m;
    uint64_t machine;   /* the physical memory; 0: unknown */
} memory_walk;

/* One cgroup's limit (v2's memory.max, v1's memory.limit_in_bytes) and what
 * its usage leaves under it, less the file cache in that usage that can be
 * dropped (what docker stats leaves out). Each limited cgroup's room counts:
 * the kernel reclaims, then kills, at whichever of them fills first, and a
 * parent's may be filled by its other children. */
static void memory_visit(const char *dir, int v1, void *arg)
{
    memory_walk *w = arg;
    sg_sysmem *m = w->m;
    char path[PATH_MAX + 32];
    uint64_t max, used, cache = 0;
    snprintf(path, sizeof path, "%s/%s", dir, v1 ? "memory.limit_in_bytes" : "memory.max");
    if (read_number(path, NULL, &max) || max == 0) return;   /* none, or v2's "max" */
    /* v1's "no limit" is 2^63 less a page; none is at or above the machine's */
    if (max >= (uint64_t)1 << 62 || (w->machine && max >= w->machine)) return;
    if (m->limit == 0 || max < m->limit) {
        m->limit = max;
        m->swap = 0;
        m->cgroup = 1;
    }
    snprintf(path, sizeof path, "%s/%s", dir, v1 ? "memory.usage_in_bytes" : "memory.current");
    if (read_number(path, NULL, &used) == 0) {
        snprintf(path, sizeof path, "%s/memory.stat", dir);
        read_number(path, v1 ? "total_inactive_file" : "inactive_file", &cache);
        used = cache < used ? used - cache : 0;
        uint64_t left = used < max ? max - used : 0;
        if (m->available == 0 || left < m->available) m->available = left ? left : 1;   /* 0: unknown */
    }
}

void sg_sysmem_cgroup(sg_sysmem *m, const char *root, const char *proc_cgroup)
{
    memory_walk w = {m, m->limit};
    sg_cgroup_walk(root, proc_cgroup, "memory", memory_visit, &w);
    if (m->available > m->limit && m->limit) m->available = m->limit;
}

sg_sysmem_verdict sg_sysmem_fit(const sg_sysmem *m, uint64_t need)
{
    if (m->limit == 0 || need <= (m->available ? m->available : m->limit)) return SG_SYSMEM_FITS;
    return need <= sg_sysmem_most(m) ? SG_SYSMEM_WARN : SG_SYSMEM_REFUSE;
}

uint64_t sg_sysmem_most(const sg_sysmem *m)
{
    return m->limit + m->swap;
}

int sg_sysmem_largest(uint64_t (*bytes)(const void *ctx, int n), const void *ctx, int hi, uint64_t room)
{
    int lo = 0;   /* bytes(lo) <= room, or lo 0 */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2 + (hi - lo) % 2;   /* the upper middle; hi - lo + 1 may overflow */
        if (bytes(ctx, mid) <= room) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

const char *sg_size_text(char out[24], uint64_t bytes)
{
    double mb = (double)bytes / 1e6, gb = (double)bytes / 1e9;   /* two digits at least */
    if (bytes < 1000000) snprintf(out, 24, "%.0f kB", (double)bytes / 1e3);
    else if (gb < 1) snprintf(out, 24, mb < 10 ? "%.1f MB" : "%.0f MB", mb);
    else snprintf(out, 24, gb < 10 ? "%.1f GB" : "%.0f GB", gb);
    return out;
}

const char *sg_sysmem_has_text(char out[128], const sg_sysmem *m)
{
    char limit_s[24], avail_s[24], swap_s[24], avail[48] = "", swap[48] = "";
    if (m->available) snprintf(avail, sizeof avail, "%s available", sg_size_text(avail_s, m->available));
    if (m->swap) snprintf(swap, sizeof swap, "%sand %s of swap", avail[0] ? ", " : "", sg_size_text(swap_s, m->swap));
    snprintf(out, 128, "%s %s%s%s%s%s", m->cgroup ? "its cgroup allows" : "this machine has",
             sg_size_text(limit_s, m->limit), avail[0] || swap[0] ? " (" : "", avail, swap,
             avail[0] || swap[0] ? ")" : "");
    return out;
}

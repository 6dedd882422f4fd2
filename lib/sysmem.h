/* The memory this process can have: the machine's (/proc/meminfo), or less
 * under a cgroup memory limit (v2 memory.max or v1 memory.limit_in_bytes) set
 * on the process's own cgroup or an ancestor (a container's, a systemd
 * slice's MemoryMax, a SLURM job's; lib/cgroup.h). The CPU backend's
 * blocks are calloc'd and touched later: under Linux's overcommit a model
 * larger than this is not refused at allocation but killed by the kernel
 * mid-run, so the tools compare with it first. */
#ifndef SG_SYSMEM_H
#define SG_SYSMEM_H
#include <stdint.h>

typedef struct {
    uint64_t limit;       /* bytes the process can ever have: the physical memory
                           * (MemTotal), or the cgroup's limit when lower; 0: unknown */
    uint64_t available;   /* bytes it can have now without swapping or pushing others
                           * out: MemAvailable, or the least a limited cgroup's limit
                           * less its usage (reclaimable file cache not counted) leaves,
                           * when lower; 0: unknown */
    int cgroup;           /* 1: limit is the cgroup's */
    uint64_t swap;        /* the machine's swap (SwapTotal, zram included); 0 under
                           * a cgroup limit, which counts memory alone */
} sg_sysmem;

/* Fills m. Test hook: SG_TEST_MEMORY_KIB=LIMIT,AVAILABLE[,SWAP] in the
 * environment (KiB, decimal integers) replaces what the system says, so that
 * the tests can play a small machine; any other value is ignored. */
void sg_sysmem_read(sg_sysmem *m);

/* Lowers m's limit and available (the machine's, filled in first) to the
 * tightest cgroup limit, and the least room under any limit, of the cgroups
 * named in proc_cgroup (the text of /proc/self/cgroup) and their ancestors,
 * for the cgroup file systems mounted at root (v2 there, v1's memory
 * controller at root/memory); sets m->cgroup when the limit is a cgroup's.
 * sg_sysmem_read's second half, apart for the tests' fake trees. */
void sg_sysmem_cgroup(sg_sysmem *m, const char *root, const char *proc_cgroup);

/* What a need of bytes is, against m: within what is available now (or,
 * that unknown, the limit), or m unknown (limit 0): it fits. Beyond memory
 * and swap together (sg_sysmem_most): refused, since the CPU backend's
 * blocks would be killed mid-run rather than refused. Between the two: a
 * warning, and the work goes on (swapping is slow, not killed). The callers
 * word each case themselves. */
typedef enum { SG_SYSMEM_FITS, SG_SYSMEM_WARN, SG_SYSMEM_REFUSE } sg_sysmem_verdict;
sg_sysmem_verdict sg_sysmem_fit(const sg_sysmem *m, uint64_t need);
/* The most a need can be without being refused: the limit and the swap. */
uint64_t sg_sysmem_most(const sg_sysmem *m);

/* The largest n from 1 to hi whose bytes(ctx, n) are at most room; 0 for
 * none (or hi below 1). bytes must grow with n (a binary search: about
 * log2(hi) calls). For the batch or chunk a memory message names. */
int sg_sysmem_largest(uint64_t (*bytes)(const void *ctx, int n), const void *ctx, int hi, uint64_t room);

/* What m allows, as the memory messages say it, into out (returned): "this
 * machine has 23 GB (20 GB available, and 8.6 GB of swap)", or "its cgroup
 * allows 4.0 GB (...)"; the parts not known are left out. */
const char *sg_sysmem_has_text(char out[128], const sg_sysmem *m);

/* bytes in decimal units as a message gives them, into out (returned):
 * "75 kB", "1.1 MB", "590 MB", "3.0 GB", "19 GB". */
const char *sg_size_text(char out[24], uint64_t bytes);

#endif

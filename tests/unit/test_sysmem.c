/* lib/sysmem.c: the memory limit is the tightest cgroup limit of the
 * process's own cgroup (named in /proc/self/cgroup) and its ancestors, not
 * only the mount root's: a systemd slice's MemoryMax, a SLURM job's or a
 * docker container's under cgroupns=host sits deeper. The room left is the
 * least under any of those limits. Checked on fake trees under a temporary
 * root, v2 and v1; and the tests' SG_TEST_MEMORY_KIB hook. The verdict on
 * a need (sg_sysmem_fit) and the search for the largest batch within a room
 * (sg_sysmem_largest), which sg-train's and sg-sample's memory checks share. */
#include "check.h"
#include "test_tmpdir.h"
#include "sysmem.h"
#include <inttypes.h>

#define GIB ((uint64_t)1 << 30)

static void put(const char *rel, const char *text)
{
    CHECK(test_tmp_put(rel, text) == 0, "cannot write %s", rel);
}

/* a number of GiB as a cgroup file holds it */
static void put_gib(const char *rel, uint64_t gib)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64 "\n", gib * GIB);
    put(rel, text);
}

/* sg_sysmem_cgroup on a machine of 64 GiB with 48 available; want_* in GiB */
static void check_mem(int line, const char *proc_cgroup, uint64_t want_limit, uint64_t want_avail, int want_cgroup)
{
    sg_sysmem m = {64 * GIB, 48 * GIB, 0, 0};
    sg_sysmem_cgroup(&m, test_tmpdir, proc_cgroup);
    int ok = m.limit == want_limit * GIB && m.available == want_avail * GIB && m.cgroup == want_cgroup;
    CHECK(ok, "line %d, \"%.*s\": limit %.3f GiB, available %.3f GiB, cgroup %d; want %" PRIu64 ", %" PRIu64 ", %d",
          line, (int)strcspn(proc_cgroup, "\n"), proc_cgroup, (double)m.limit / GIB, (double)m.available / GIB,
          m.cgroup, want_limit, want_avail, want_cgroup);
}
#define CHECK_MEM(proc, limit, avail, cg) check_mem(__LINE__, proc, limit, avail, cg)

static void test_v2(void)
{
    if (test_tmpdir_make("test_sysmem") != 0) { CHECK(0, "no temporary directory"); return; }
    const char *job = "0::/system.slice/job.slice/job.scope\n";
    CHECK_MEM("0::/\n", 64, 48, 0);   /* no files: the machine's */
    CHECK_MEM(job, 64, 48, 0);
    CHECK_MEM("", 64, 48, 0);

    /* the host's root cgroup has no memory.max; a limit at a parent, none
     * ("max") in between, a tighter one at the leaf */
    put_gib("system.slice/memory.max", 16);
    put_gib("system.slice/memory.current", 10);
    put("system.slice/memory.stat", "anon 123\nactive_file 5\ninactive_file 2147483648\n");   /* 2 GiB */
    put("system.slice/job.slice/memory.max", "max\n");
    put_gib("system.slice/job.slice/memory.current", 9);
    put_gib("system.slice/job.slice/job.scope/memory.max", 12);
    put_gib("system.slice/job.slice/job.scope/memory.current", 9);
    put("system.slice/job.slice/job.scope/memory.stat", "inactive_file 1073741824\n");   /* 1 GiB */
    /* the leaf's: 12 GiB, 12 - (9 - 1) left (the parent's has 16 - (10 - 2)) */
    CHECK_MEM(job, 12, 4, 1);
    /* the parent's limit through a middle cgroup without one */
    CHECK_MEM("0::/system.slice/job.slice\n", 16, 8, 1);
    /* the parent nearly full of its other children: its room is the less */
    put_gib("system.slice/memory.current", 17);
    put("system.slice/memory.stat", "inactive_file 3221225472\n");   /* 3 GiB: 16 - 14 */
    CHECK_MEM(job, 12, 2, 1);
    put_gib("system.slice/memory.current", 10);
    put("system.slice/memory.stat", "inactive_file 2147483648\n");
    /* the leaf unlimited: the parent's */
    put("system.slice/job.slice/job.scope/memory.max", "max\n");
    CHECK_MEM(job, 16, 8, 1);
    put_gib("system.slice/job.slice/job.scope/memory.max", 12);

    /* a container's own cgroup at the mount root ("0::/" with a cgroup
     * namespace; a host path not mounted here without one) */
    put_gib("memory.max", 32);
    put_gib("memory.current", 30);
    CHECK_MEM("0::/\n", 32, 2, 1);
    CHECK_MEM("0::/docker/abc\n", 32, 2, 1);
    CHECK_MEM(job, 12, 2, 1);   /* the root's room is the least */
    /* a limit no lower than the machine's is none; its room is not read */
    put_gib("memory.max", 64);
    CHECK_MEM("0::/\n", 64, 48, 0);
    CHECK_MEM(job, 12, 4, 1);
    /* no more room than the limit, however much the machine has */
    put_gib("system.slice/job.slice/job.scope/memory.current", 0);
    put("system.slice/job.slice/job.scope/memory.stat", "inactive_file 0\n");
    put_gib("system.slice/memory.current", 0);
    CHECK_MEM(job, 12, 12, 1);
    /* full: 1 byte, not 0 (unknown) */
    put_gib("system.slice/job.slice/job.scope/memory.current", 13);
    sg_sysmem m = {64 * GIB, 48 * GIB, 0, 0};
    sg_sysmem_cgroup(&m, test_tmpdir, job);
    CHECK(m.limit == 12 * GIB && m.available == 1, "full cgroup: limit %" PRIu64 ", available %" PRIu64, m.limit,
          m.available);
    /* a limit without a readable usage (no memory.current): the room is the
     * limit, not the machine's 48 GiB (a model larger than the cgroup would
     * pass the fit checks, then be killed) */
    put_gib("nousage.slice/memory.max", 16);
    CHECK_MEM("0::/nousage.slice\n", 16, 16, 1);
    test_tmpdir_remove();
}

static void test_v1(void)
{
    if (test_tmpdir_make("test_sysmem") != 0) { CHECK(0, "no temporary directory"); return; }
    const char *job = "12:memory:/slurm/uid_1000/job_42\n4:cpu,cpuacct:/slurm/uid_1000/job_42\n"
                      "1:name=systemd:/user.slice\n";
    /* v1's "no limit", 2^63 less a page */
    put("memory/memory.limit_in_bytes", "9223372036854771712\n");
    put_gib("memory/memory.usage_in_bytes", 60);
    CHECK_MEM("12:memory:/\n", 64, 48, 0);
    put_gib("memory/slurm/memory.limit_in_bytes", 20);
    put_gib("memory/slurm/memory.usage_in_bytes", 10);
    put_gib("memory/slurm/uid_1000/job_42/memory.limit_in_bytes", 6);
    put_gib("memory/slurm/uid_1000/job_42/memory.usage_in_bytes", 5);
    /* v1's hierarchical count is total_inactive_file, after the cgroup's own */
    put("memory/slurm/uid_1000/job_42/memory.stat", "inactive_file 0\ntotal_inactive_file 2147483648\n");
    CHECK_MEM(job, 6, 3, 1);
    CHECK_MEM("12:memory:/slurm/uid_1000\n", 20, 10, 1);
    /* only the memory controller's hierarchy is read */
    CHECK_MEM("4:cpu,cpuacct:/slurm/uid_1000/job_42\n", 64, 48, 0);
    CHECK_MEM("5:memory,hugetlb:/slurm/uid_1000/job_42\n", 6, 3, 1);
    /* a machine whose memory is unknown: v1's 2^63 is still no limit */
    sg_sysmem m = {0, 0, 0, 0};
    sg_sysmem_cgroup(&m, test_tmpdir, "12:memory:/\n");
    CHECK(m.limit == 0 && m.cgroup == 0, "unknown machine, v1 root: limit %" PRIu64, m.limit);
    test_tmpdir_remove();
}

static void test_hook(void)
{
    sg_sysmem m;
    unsetenv("SG_TEST_MEMORY_KIB");
    sg_sysmem_read(&m);
    CHECK(m.limit > 0 && m.available > 0 && m.available <= m.limit,
          "this machine: limit %" PRIu64 ", available %" PRIu64, m.limit, m.available);
    setenv("SG_TEST_MEMORY_KIB", "1000,300", 1);
    sg_sysmem_read(&m);
    CHECK(m.limit == 1000 << 10 && m.available == 300 << 10 && m.cgroup == 0,
          "SG_TEST_MEMORY_KIB=1000,300: limit %" PRIu64 ", available %" PRIu64, m.limit, m.available);
    unsetenv("SG_TEST_MEMORY_KIB");
}

/* sg_sysmem_fit's three answers at their edges, in bytes: a machine of
 * 1000 with 600 available and 300 of swap */
static void test_fit(void)
{
    const sg_sysmem m = {1000, 600, 0, 300};
    static const struct { uint64_t need; sg_sysmem_verdict want; } cases[] = {
        {0, SG_SYSMEM_FITS},    {600, SG_SYSMEM_FITS},     {601, SG_SYSMEM_WARN},
        {1000, SG_SYSMEM_WARN}, {1300, SG_SYSMEM_WARN},    {1301, SG_SYSMEM_REFUSE},
        {UINT64_MAX, SG_SYSMEM_REFUSE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sg_sysmem_verdict got = sg_sysmem_fit(&m, cases[k].need);
        CHECK(got == cases[k].want, "need %" PRIu64 " of 1000 (600 available, 300 swap): %d, want %d",
              cases[k].need, (int)got, (int)cases[k].want);
    }
    CHECK(sg_sysmem_most(&m) == 1300, "most: %" PRIu64 ", want 1300", sg_sysmem_most(&m));
    /* available unknown: the limit is the line for a warning */
    const sg_sysmem no_avail = {1000, 0, 0, 0};
    CHECK(sg_sysmem_fit(&no_avail, 1000) == SG_SYSMEM_FITS && sg_sysmem_fit(&no_avail, 1001) == SG_SYSMEM_REFUSE,
          "available unknown, no swap: 1000 %d, 1001 %d; want fits, refused", (int)sg_sysmem_fit(&no_avail, 1000),
          (int)sg_sysmem_fit(&no_avail, 1001));
    /* a cgroup's limit: no swap counted, refused past it */
    const sg_sysmem cg = {1000, 10, 1, 0};
    CHECK(sg_sysmem_fit(&cg, 11) == SG_SYSMEM_WARN && sg_sysmem_fit(&cg, 1001) == SG_SYSMEM_REFUSE,
          "cgroup of 1000, 10 available: 11 %d, 1001 %d; want warn, refused", (int)sg_sysmem_fit(&cg, 11),
          (int)sg_sysmem_fit(&cg, 1001));
    /* nothing known: everything fits (no check is better than a wrong one) */
    const sg_sysmem unknown = {0, 0, 0, 0};
    CHECK(sg_sysmem_fit(&unknown, UINT64_MAX) == SG_SYSMEM_FITS, "memory unknown: %d, want fits",
          (int)sg_sysmem_fit(&unknown, UINT64_MAX));
}

/* bytes of n: a fixed part and a part per n, as a model and its batch */
typedef struct { uint64_t fixed, per; int calls; } bytes_model;
static uint64_t model_bytes(const void *ctx, int n)
{
    bytes_model *b = (bytes_model *)ctx;
    b->calls++;
    return b->fixed + b->per * (uint64_t)n;
}

/* sg_sysmem_largest against a linear scan, on every room from below one
 * item to past the last, for several upper ends */
static void test_largest(void)
{
    bytes_model b = {1000, 37, 0};
    static const int his[] = {-1, 0, 1, 2, 3, 7, 64, 1000};
    int wrong = 0;
    for (size_t h = 0; h < sizeof his / sizeof his[0]; h++) {
        int hi = his[h];
        for (uint64_t room = 0; room <= 1000 + 37 * 1002 && !wrong; room += room < 1100 ? 1 : 13) {
            int want = 0;
            for (int n = 1; n <= hi; n++)
                if (b.fixed + b.per * (uint64_t)n <= room) want = n;
            b.calls = 0;
            int got = sg_sysmem_largest(model_bytes, &b, hi, room);
            int most_calls = 0;
            for (int span = hi; span > 0; span /= 2) most_calls++;
            if (got != want || b.calls > most_calls + 1) {
                CHECK(0, "hi %d, room %" PRIu64 ": %d in %d calls, want %d in at most %d", hi, room, got, b.calls,
                      want, most_calls + 1);
                wrong = 1;
            }
        }
    }
    /* a batch of 2^31 - 1 (the largest an int holds): no overflow in the middle */
    bytes_model big = {0, 1, 0};
    int got = sg_sysmem_largest(model_bytes, &big, INT32_MAX, (uint64_t)INT32_MAX - 5);
    CHECK(got == INT32_MAX - 5 && big.calls <= 32, "hi 2^31-1: %d in %d calls, want %d", got, big.calls,
          INT32_MAX - 5);
}

int main(void)
{
    test_v2();
    test_v1();
    test_hook();
    test_fit();
    test_largest();
    return check_done();
}

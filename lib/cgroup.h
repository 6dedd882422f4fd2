/* Internal to lib/ (thread.c, sysmem.c): no tool includes it, and
 * tests/cli/make.bats checks that none does.
 *
 * Finding the cgroups whose limits bind this process, for the CPU quota
 * (lib/thread.c) and the memory limit (lib/sysmem.c). A limit set on any
 * ancestor binds the cgroups below it, and the process is seldom at the mount
 * root: a systemd slice with MemoryMax or CPUQuota, a SLURM job, a docker
 * container run with cgroupns=host each put it deeper. So a reader visits the
 * process's own cgroup (named in /proc/self/cgroup) and each ancestor, and
 * takes the tightest. */
#ifndef SG_CGROUP_H
#define SG_CGROUP_H
#include <stddef.h>

/* Called with a cgroup's directory; v1: 1 when it is in controller's v1
 * hierarchy, 0 in v2's. */
typedef void sg_cgroup_visit(const char *dir, int v1, void *arg);

/* For each line of proc_cgroup (the text of /proc/self/cgroup) that is cgroup
 * v2's ("0::PATH") or names controller among a v1 hierarchy's controllers
 * ("ID:cpu,cpuacct:PATH"): visit(dir, v1, arg) for root/PATH (v2) or
 * root/controller/PATH (v1), then for each of its ancestors up to and with
 * the mount root. A path not mounted there (a container showing its host
 * path without a cgroup namespace) is visited too; its files do not open, and
 * its mounted ancestors (the container's own cgroup at the root) still are. */
void sg_cgroup_walk(const char *root, const char *proc_cgroup, const char *controller, sg_cgroup_visit *visit,
                    void *arg);

/* The file's text (at most size - 1 bytes) in buf: 0, or -1 when it cannot be
 * read. */
int sg_cgroup_read(const char *path, char *buf, size_t size);

#endif

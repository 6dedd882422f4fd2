#include "image_folders.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The count of nested files stops this deep (a tree made by mistake). */
#define NESTED_DEPTH_MAX 32

int sg_is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

/* dir/name, malloc'd; NULL when out of memory. */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, (*dir && dir[strlen(dir) - 1] == '/') ? "" : "/", name);
    return p;
}

/* Files (not hidden) under dir, at any depth, into *n; links to folders
 * inside dir are not followed (no loops; dir itself may be one, as
 * sg_list_images follows a link to a folder in a class folder, as
 * ImageFolder does). A folder that cannot be read counts nothing. 0, or -1
 * when out of memory. */
static int count_files_under(const char *dir, int depth, size_t *n)
{
    DIR *d = depth < NESTED_DEPTH_MAX ? opendir(dir) : NULL;
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = join(dir, e->d_name);
        if (!full) { rc = -1; break; }
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) rc = count_files_under(full, depth + 1, n);
        else if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode)) (*n)++;
        free(full);
    }
    closedir(d);
    return rc;
}

void sg_dir_listing_free(sg_dir_listing *l)
{
    sg_names_free(&l->listed);
    memset(l, 0, sizeof *l);
}

/* The entries of dir (no hidden ones): its folders (want_dirs), or its image
 * files, sorted; the rest counted (n_other, and for files n_nested). */
static int list_dir(const char *dir, int want_dirs, sg_dir_listing *out, sg_err *err)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return sg_errno(err, "%s", dir);
    struct dirent *e;
    /* errno is readdir's alone: the stat below fails for a dangling link */
    while ((errno = 0, e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = join(dir, e->d_name);
        if (!full) goto out_of_memory;
        struct stat st;
        int is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        int oom = !want_dirs && is_dir && count_files_under(full, 0, &out->n_nested);
        free(full);
        if (oom) goto out_of_memory;
        int listed = want_dirs ? is_dir : !is_dir && sg_is_image_name(e->d_name);
        if (!listed) {
            if (!is_dir) out->n_other++;
            continue;
        }
        if (sg_names_add(&out->listed, e->d_name, strlen(e->d_name))) goto out_of_memory;
    }
    if (errno) {
        sg_errno(err, "%s", dir);
        closedir(d);
        sg_dir_listing_free(out);
        return -1;
    }
    closedir(d);
    sg_names_sort(&out->listed);
    return 0;

out_of_memory:
    closedir(d);
    sg_dir_listing_free(out);
    return sg_err_oom(err, "out of memory");
}

int sg_list_folders(const char *dir, sg_dir_listing *out, sg_err *err) { return list_dir(dir, 1, out, err); }

int sg_list_images(const char *dir, sg_dir_listing *out, sg_err *err) { return list_dir(dir, 0, out, err); }

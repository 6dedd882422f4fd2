/* A dataset of one class per subfolder, listed as celeb-pack --folders packs
 * it (celeb-pack(1)): close to torchvision's ImageFolder, whose class indices
 * a shard's one-hot labels must match. Classes and files are sorted by byte
 * value (strcmp: the order of Python's sorted() on the names' code points
 * for UTF-8 names). Hidden entries (a name starting with '.') are skipped and
 * not counted; ImageFolder takes a hidden folder as a class. Only the image
 * files directly in a class folder are listed; what ImageFolder would take
 * besides (files in nested folders, other extensions) is counted, for the
 * tool to tell. */
#ifndef SG_IMAGE_FOLDERS_H
#define SG_IMAGE_FOLDERS_H
#include <stddef.h>
#include "error.h"
#include "strbuf.h"

/* 1 when name ends in .jpg, .jpeg or .png, in any case: a file of a class. */
int sg_is_image_name(const char *name);

typedef struct {
    sg_names listed;    /* sorted by strcmp */
    size_t n_other;     /* the entries (not hidden) neither listed nor folders */
    size_t n_nested;    /* sg_list_images: files (not hidden) in the folders below, at any depth */
} sg_dir_listing;

/* Both listings return 0, or -1 with err ("DIR: strerror" where opendir or
 * readdir failed; "out of memory", sys_errno ENOMEM) and *out empty.
 * sg_list_folders: the folders of dir (a symbolic link to a folder is one; a
 * dangling link is not), the classes of a dataset root. */
int sg_list_folders(const char *dir, sg_dir_listing *out, sg_err *err);
/* The entries of a class folder dir that name image files (sg_is_image_name
 * and not a folder; a dangling link or a FIFO is listed, for its reader to
 * refuse). A folder in it, a link to one included, adds its files to
 * n_nested; links to folders further down are not followed (no loops), and
 * the count stops 32 folders deep. */
int sg_list_images(const char *dir, sg_dir_listing *out, sg_err *err);
/* Frees the names and empties l. */
void sg_dir_listing_free(sg_dir_listing *l);

#endif

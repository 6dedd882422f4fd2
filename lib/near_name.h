/* "Did you mean": the known name nearest to one that matched none (an
 * attribute or label name with a typo), for a message's suggestion. */
#ifndef SG_NEAR_NAME_H
#define SG_NEAR_NAME_H
#include <stddef.h>

/* The candidate of names[0..n-1] (NULL entries skipped) nearest to name by
 * edit distance, ASCII case ignored: insertions, deletions, substitutions and
 * swaps of two neighbouring characters count 1 each ("Blnd_Hair",
 * "blond_hair" and "Bldno_Hair" give "Blond_Hair"). The first of equally near
 * ones. NULL when name is empty or NULL, when no candidate is within
 * max(2, strlen(name) / 3) edits and fewer edits than the longer of the two
 * has characters ("D" is no typo of "B"), or when memory runs out. The pointer
 * returned is names[i] itself. */
const char *sg_near_name(const char *name, const char *const *names, size_t n);

/* The edit distance sg_near_name measures (ASCII case ignored); (size_t)-1
 * when memory runs out. */
size_t sg_name_distance(const char *a, const char *b);
#endif

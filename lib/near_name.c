/* lib/near_name.c: the nearest known name, for "did you mean" (near_name.h). */
#include "near_name.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int fold(char c)
{
    return tolower((unsigned char)c);
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Optimal string alignment distance: three rows of the dynamic programme
 * (the one before last for a swap). */
size_t sg_name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc(3 * (lb + 1) * sizeof *row);
    if (!row) return (size_t)-1;
    size_t *prev2 = row, *prev = row + lb + 1, *cur = row + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]) &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[lb];
    free(row);
    return d;
}

const char *sg_near_name(const char *name, const char *const *names, size_t n)
{
    if (!name || !*name || !names) return NULL;
    size_t len = strlen(name), limit = len / 3 > 2 ? len / 3 : 2, best_d = limit + 1;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) continue;
        size_t d = sg_name_distance(name, names[i]);
        if (d == (size_t)-1) return NULL;
        size_t cl = strlen(names[i]);
        if (d < best_d && d < (len > cl ? len : cl)) {   /* not every character replaced ("D" for "B") */
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

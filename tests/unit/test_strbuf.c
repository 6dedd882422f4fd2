/* lib/strbuf.c: sg_names, the list of owned names that sg-sample --each's
 * labels, its directory's listed files and celeb-pack's folder listings are
 * kept in. (sg_buf is tested with the JSON writer, test_json.) */
#include "check.h"
#include "strbuf.h"
#include <string.h>

/* Copies cut at len and at a NUL byte, sorted by byte value, grown past the
 * first capacity with the earlier names kept, freed to an empty list. */
static void names_list(void)
{
    sg_names l = {0};
    CHECK(sg_names_add(&l, "b", 1) == 0 && sg_names_add(&l, "abc", 2) == 0 && sg_names_add(&l, "c\0d", 3) == 0 &&
          sg_names_add(&l, "B", 1) == 0 && sg_names_add(&l, "\xc3\xa9", 2) == 0 && sg_names_add(&l, "", 0) == 0,
          "add");
    sg_names_sort(&l);
    const char *want[] = {"", "B", "ab", "b", "c", "\xc3\xa9"};   /* upper case first, a UTF-8 name last */
    int same = l.n == 6;
    for (size_t k = 0; same && k < 6; k++) same = !strcmp(l.names[k], want[k]);
    CHECK(same, "the copies cut at len and at a NUL, sorted: %zu names", l.n);
    char source[] = "kept";
    sg_names_add(&l, source, 4);
    source[0] = 'X';
    CHECK(!strcmp(l.names[6], "kept"), "a copy, not the caller's bytes: %s", l.names[6]);
    for (int k = 0; k < 100; k++) sg_names_add(&l, "x", 1);   /* past the first capacity */
    CHECK(l.n == 107 && l.cap >= 107 && !strcmp(l.names[0], "") && !strcmp(l.names[5], "\xc3\xa9") &&
          !strcmp(l.names[106], "x"), "grown to %zu, the first names kept", l.n);
    sg_names_free(&l);
    CHECK(l.n == 0 && !l.names && !l.cap, "freed: emptied");
    sg_names_sort(&l);   /* an empty list: nothing to sort (names is NULL) */
    CHECK(sg_names_add(&l, "again", 5) == 0 && l.n == 1 && !strcmp(l.names[0], "again"), "a freed list is reusable");
    sg_names_free(&l);
}

int main(void)
{
    names_list();
    return check_done();
}

/* lib/near_name.c: the nearest known name for "did you mean". */
#include "check.h"
#include "near_name.h"
#include <string.h>

static const char *const celeba[] = {"Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair",
                                     "Male", "Young", "Eyeglasses", "Wearing_Hat", "Mustache"};
#define N_CELEBA (sizeof celeba / sizeof *celeba)

static void expect(const char *name, const char *want)
{
    const char *got = sg_near_name(name, celeba, N_CELEBA);
    CHECK(got == want || (got && want && !strcmp(got, want)), "'%s': got %s, want %s", name ? name : "(null)",
          got ? got : "NULL", want ? want : "NULL");
}

int main(void)
{
    /* distances: insertions, deletions, substitutions, neighbours swapped, case ignored */
    CHECK(sg_name_distance("", "") == 0, "empty");
    CHECK(sg_name_distance("abc", "") == 3, "to empty");
    CHECK(sg_name_distance("kitten", "sitting") == 3, "kitten/sitting");
    CHECK(sg_name_distance("Blnd_Hair", "Blond_Hair") == 1, "insertion");
    CHECK(sg_name_distance("Bldno_Hair", "Blond_Hair") == 2, "swap + substitution");
    CHECK(sg_name_distance("Bolnd_Hair", "Blond_Hair") == 1, "swap");
    CHECK(sg_name_distance("MALE", "male") == 0, "case");

    expect("Blnd_Hair", "Blond_Hair");
    expect("blond_hair", "Blond_Hair");     /* only the case differs */
    expect("Bolnd_Hair", "Blond_Hair");
    expect("Eyeglases", "Eyeglasses");
    expect("Mal", "Male");
    expect("Yung", "Young");
    expect("Wearing_Hats", "Wearing_Hat");
    expect("Bxack_Hair", "Black_Hair");      /* 1 from Black_Hair only */
    /* the first of equally near ones */
    expect("Blxxx_Hair", "Black_Hair");      /* 3 from Black_Hair and Blond_Hair (10 chars: limit 3): the first */
    /* nothing close: more than max(2, len/3) edits */
    expect("Smiling", NULL);
    expect("Hat", NULL);                     /* 3 letters: limit 2, Male is 3 away */
    expect("xyz", NULL);
    expect("Blxxxx_Hair", NULL);             /* 4 from each, limit 11/3 = 3 */
    expect("", NULL);
    CHECK(sg_near_name("D", (const char *const[]){"B", "DA"}, 2) != NULL, "D -> DA (one insertion)");
    CHECK(sg_near_name("D", (const char *const[]){"B"}, 1) == NULL, "D -> B: all replaced");
    expect(NULL, NULL);
    /* NULL entries are skipped; no candidates: NULL */
    const char *const some[] = {NULL, "Male", NULL};
    CHECK(sg_near_name("Mael", some, 3) == some[1], "NULL entries skipped");
    CHECK(sg_near_name("Male", some, 0) == NULL, "no candidates");
    CHECK(sg_near_name("Male", NULL, 3) == NULL, "no list");
    /* the pointer is the list's own */
    CHECK(sg_near_name("Blnd_Hair", celeba, N_CELEBA) == celeba[2], "returns names[i]");
    return check_done();
}

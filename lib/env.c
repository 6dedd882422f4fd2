#include "env.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

int sg_env_choice(const char *name, const char *const *choices, int n_choices, int def, sg_err *err)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    for (int i = 0; i < n_choices; i++)
        if (!strcmp(v, choices[i])) return i;
    char list[512];
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; i < n_choices && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 i == 0 ? "" : i == n_choices - 1 ? " or " : ", ", choices[i]);
    return sg_errf(err, "%s=%s: expected %s", name, sg_quote_str(v).s, list);
}

int sg_env_long(const char *name, long lo, long hi, long def, long *out, sg_err *err)
{
    const char *v = getenv(name);
    *out = def;
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi)
        return sg_errf(err, "%s=%s: expected an integer from %ld to %ld", name, sg_quote_str(v).s, lo, hi);
    *out = x;
    return 0;
}

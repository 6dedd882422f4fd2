/* Error reporting for lib/: functions return 0 on success and -1 on failure,
 * with a one-line message in an sg_err that the calling tool prints as
 * "tool: message". lib/ never prints and never exits. */
#ifndef SG_ERROR_H
#define SG_ERROR_H
#include <stddef.h>

typedef struct { char msg[1024]; } sg_err;

/* Formats the message into err (if non-NULL) and returns -1. */
int sg_errf(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like sg_errf, appending ": strerror(errno)". */
int sg_errno(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "prefix: old message". Returns -1. */
int sg_err_prefix(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

#include "version.h"

/* The Makefile defines SG_VERSION and SG_CFLAGS_ID for this file only, from
 * VERSION and the git commit, and from the compiler and CPPFLAGS+CFLAGS, and
 * recompiles it only when that text changes. */
#ifndef SG_VERSION
#define SG_VERSION "unknown"
#endif
#ifndef SG_CFLAGS_ID
#define SG_CFLAGS_ID "unknown"
#endif

const char sg_version[] = SG_VERSION;
const char sg_created_by[] = "stargan-c " SG_VERSION;
const char sg_cflags_id[] = SG_CFLAGS_ID;

#include "version.h"

/* The Makefile defines SG_VERSION for this file only, from VERSION and the git
 * commit, and recompiles it only when that text changes. */
#ifndef SG_VERSION
#define SG_VERSION "unknown"
#endif

const char sg_version[] = SG_VERSION;
const char sg_created_by[] = "stargan-c " SG_VERSION;

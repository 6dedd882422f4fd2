/* Which build of stargan-c this is: "0.1.0", and where it was built from a git
 * checkout "0.1.0 (git 253f1aa12345)" or "0.1.0 (git 253f1aa12345, modified)".
 * Files record it ("created_by": "stargan-c VERSION") so that builds can be
 * told apart: a resume is bit-for-bit only on the same build. */
#ifndef SG_VERSION_H
#define SG_VERSION_H

extern const char sg_version[];
/* "stargan-c " sg_version, what files record as created_by */
extern const char sg_created_by[];
/* 8 hex digits hashing the compiler (its --version line) and CPPFLAGS+CFLAGS the
 * library was built with, "unknown" outside the Makefile: the same commit
 * built otherwise may round and sum otherwise (sg_backend_cpu_numerics). */
extern const char sg_cflags_id[];

#endif

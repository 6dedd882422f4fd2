/* Which build of stargan-c this is: "0.1.0", and where it was built from a git
 * checkout "0.1.0 (git 253f1aa12345)" or "0.1.0 (git 253f1aa12345, modified)".
 * Files record it ("created_by": "stargan-c VERSION") so that builds can be
 * told apart: a resume is bit-for-bit only on the same build. */
#ifndef SG_VERSION_H
#define SG_VERSION_H

extern const char sg_version[];
/* "stargan-c " sg_version, what files record as created_by */
extern const char sg_created_by[];

#endif

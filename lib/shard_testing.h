/* Test-only hooks of lib/shard.c, for tests/unit/test_shard.c. No tool
 * includes this header: a shard made through them is not one to keep. */
#ifndef SG_SHARD_TESTING_H
#define SG_SHARD_TESTING_H
#include <stdint.h>
#include "shard.h"

/* Makes a writer with nothing appended yet count n records as appended and
 * written: the next record is number n, keyed n. It reaches
 * SG_SHARD_MAX_RECORDS without writing billions of records; the shard is
 * then to be aborted (sg_shard_writer_abort), not committed: its metadata
 * would count records it does not hold. -1 (nothing changed) when a record
 * was appended already. */
int sg_shard_writer_test_count_from(sg_shard_writer *w, uint64_t n);
/* The temporary directory being written. */
const char *sg_shard_writer_tmp_path(const sg_shard_writer *w);

#endif

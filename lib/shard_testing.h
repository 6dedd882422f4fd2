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

/* The reader's decoding of the bytes LMDB hands it, without LMDB (for
 * tests/fuzz/fuzz_shard.c): the metadata record's text into m, as
 * sg_shard_open checks it (m is zeroed first; on failure nothing is left to
 * free; path names the shard in messages), and record index's value, as
 * sg_shard_read checks and decodes it against m. */
int sg_shard_meta_parse(const char *path, const char *text, size_t len, sg_shard_meta *m, sg_err *err);
void sg_shard_meta_free(sg_shard_meta *m);
int sg_shard_record_decode(const sg_shard_meta *m, const char *path, uint64_t index, const uint8_t *value,
                           size_t len, uint8_t *pixels, float *labels, char *name, size_t name_len, sg_err *err);

#endif

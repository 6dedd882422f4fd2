/* For the unit tests that run the trainer or read its runs (test_trainer,
 * test_run_config, test_ckpt_data): a shard of random pixels and labels
 * (make_shard), options of a model small enough to train in milliseconds
 * (tiny_options), and a config.json value edited in place
 * (set_config_value). */
#ifndef SG_TEST_TRAIN_FIXTURE_H
#define SG_TEST_TRAIN_FIXTURE_H
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fileio.h"
#include "rng.h"
#include "shard.h"
#include "strbuf.h"
#include "trainer.h"

/* source: the metadata's; crop: the center-crop side recorded (0: none). */
static inline void make_shard_from(const char *path, int n, int S, int n_labels, int one_hot, uint64_t seed,
                                   const char *source, uint32_t crop)
{
    sg_shard_meta m = {0};
    char names[8][32];
    m.width = m.height = (uint32_t)S;
    m.channels = 3;
    m.pixel_encoding = SG_PIXELS_RAW;
    m.label_kind = one_hot ? SG_LABELS_ONE_HOT : SG_LABELS_MULTI_HOT;
    m.n_labels = (uint32_t)n_labels;
    for (int j = 0; j < n_labels; j++) {
        snprintf(names[j], sizeof names[j], j == 0 ? "Black_Hair" : "attr%d", j);
        m.label_names[j] = names[j];
    }
    snprintf(m.source, sizeof m.source, "%s", source);
    m.crop = crop;
    m.size = (uint32_t)S;
    sg_shard_writer *w;
    sg_err err;
    CHECK(sg_shard_writer_open(&w, path, &m, 0, (uint64_t)n, &err) == 0, "shard writer: %s", err.msg);
    uint8_t *pix = malloc((size_t)S * S * 3), labels[8];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < S * S * 3; k++) pix[k] = (uint8_t)(sg_rand64(seed, 1, (uint64_t)i * 100000 + k) & 255);
        for (int j = 0; j < n_labels; j++)
            labels[j] = one_hot ? (j == i % n_labels) : (uint8_t)(sg_rand64(seed, 2, (uint64_t)i * 8 + j) & 1);
        char name[32];
        snprintf(name, sizeof name, "%06d.png", i);
        /* a failure counts, a success not: a shard of 8192 would add as many passes */
        if (sg_shard_writer_append(w, labels, name, pix, (size_t)S * S * 3, &err)) {
            CHECK(0, "append %d: %s", i, err.msg);
            break;
        }
    }
    free(pix);
    sg_err note;
    CHECK(sg_shard_writer_commit(w, &note, &err) == 0, "commit: %s", err.msg);
}

static inline void make_shard(const char *path, int n, int S, int n_labels, int one_hot, uint64_t seed)
{
    make_shard_from(path, n, S, n_labels, one_hot, seed, "test", 0);
}

static inline sg_train_options tiny_options(void)
{
    sg_train_options o;
    sg_train_options_default(&o);
    o.g_conv_dim = 4; o.d_conv_dim = 4; o.g_repeat = 1; o.batch = 3;
    o.iters = 8; o.decay_iters = 3; o.log_every = 1; o.sample_every = 4; o.save_every = 0;
    o.g_lr = 3e-4; o.d_lr = 1.7e-4; o.seed = 12345; o.lambda_gp = 7.5; o.threads = 1;
    return o;
}

/* config.json's value of key in its "model" or "training" section (written
 * "key": value; the sessions' entries are compact) set to the text value;
 * 1 when the key was found. */
static inline int set_config_value(const char *run, const char *key, const char *value)
{
    char path[PATH_MAX], pattern[80];
    snprintf(path, sizeof path, "%s/config.json", run);
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    uint8_t *data;
    size_t len;
    sg_err err;
    if (sg_read_file(path, 1 << 20, &data, &len, &err)) return 0;
    char *text = (char *)data, *at = strstr(text, pattern);   /* sg_read_file's text ends in a NUL */
    int ok = at != NULL;
    if (ok) {
        at += strlen(pattern);
        size_t end = (size_t)(at - text) + strcspn(at, ",}");
        sg_buf b = SG_BUF_INIT;
        sg_buf_append(&b, text, (size_t)(at - text));
        sg_buf_puts(&b, value);
        sg_buf_append(&b, text + end, len - end);
        ok = sg_write_file_atomic(path, b.data, b.len, &err) == 0;
        sg_buf_free(&b);
    }
    free(data);
    return ok;
}

#endif

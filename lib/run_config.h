/* A run directory of sg-train and its config.json (man/man1/sg-train.1):
 * the options config.json records, through one table (sg_train_field) that
 * its writer, its reader and sg-train's options share; the model, datasets
 * and starts ("sessions") it records; and the run's files as a whole (a run
 * left without config.json, --force's clearing, killed writes' temporary
 * files). The training loop (lib/trainer.h) keeps its run here; sg-sample
 * reads a run through this header alone. */
#ifndef SG_RUN_CONFIG_H
#define SG_RUN_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "checkpoint.h"
#include "error.h"
#include "json.h"
#include "model.h"
#include "shard.h"
#include "strbuf.h"

/* The most images a run's sample grid shows (sg_train_options.n_samples,
 * config.json's "samples"). */
#define SG_TRAIN_SAMPLES_MAX 64

typedef struct {
    /* model structure (fixed for a run) */
    int g_conv_dim, g_repeat, d_conv_dim;
    int d_repeat;                 /* 0: automatic, min(6, log2(image_size) - 1) */
    /* training (may change on resume) */
    int64_t iters, decay_iters;
    int batch, n_critic;
    double g_lr, d_lr, beta1, beta2;
    double lambda_cls, lambda_rec, lambda_gp;
    int flip;                     /* random horizontal flip per image */
    int target_random;            /* 0: permutation of the batch's labels; 1: random bits */
    uint64_t seed;
    int64_t log_every, sample_every, save_every;   /* 0: never (the last iteration is always saved) */
    int keep;                     /* keep the newest N checkpoints; 0: all */
    int n_samples;                /* images in the sample grid: 8 by default, at most
                                     SG_TRAIN_SAMPLES_MAX (fewer where the first shard
                                     holds fewer) */
    int threads;                  /* CPU threads the run asked for (0: all cores): recorded so
                                     that a resume uses the same count (bit-exact on the CPU) */
    /* The device the run computes on ("cpu", "cuda") and, on CUDA, the
     * convolutions' precision ("tf32", "fp32", "bf16"); "" when unknown (runs
     * written before they were recorded). Recorded so that a resume computes
     * as the run did. */
    char device[8], precision[8];
} sg_train_options;

void sg_train_options_default(sg_train_options *o);

/* The options config.json records, one row each: its section and key,
 * sg-train's option, the type, the range, and the place in
 * sg_train_options. config.json's writer and reader (sg_run_config_read)
 * and sg-train's parsing of its options all take the range from here, so
 * that sg-train --resume reads every config.json sg-train writes, and
 * accepts in it only what the options would. */
enum { SG_CONFIG_MODEL, SG_CONFIG_TRAINING };   /* config.json's "model", "training" */
typedef struct {
    int section;                  /* SG_CONFIG_* */
    const char *key;              /* in config.json */
    const char *option;           /* sg-train's ("--batch"); NULL: none */
    char type;                    /* 'i' int, 'l' int64_t, 'u' uint64_t, 'd' double, 'b' a JSON
                                     boolean into an int, 'c' one of choices[] into an int (its index) */
    size_t off;                   /* offsetof(sg_train_options, ...) */
    int64_t ilo, ihi;             /* 'i', 'l' ('u': 0 to UINT64_MAX) */
    double dlo, dhi;              /* 'd' */
    const char *choices[2];       /* 'c' */
    int optional;                 /* may be missing (then the default), and is ignored when not an
                                     integer (threads: runs written before it) */
} sg_train_field;
/* The k-th row (from 0; the "model" rows first, then the "training" rows
 * in the order config.json lists them); NULL past the last. */
const sg_train_field *sg_train_field_at(int k);
/* The row of sg-train's option ("--batch"); NULL: none. */
const sg_train_field *sg_train_field_of_option(const char *option);
/* f's value in from into to. */
void sg_train_field_copy(sg_train_options *to, const sg_train_options *from, const sg_train_field *f);

/* One start of a run that trained (config.json's "sessions", sg-train(1)):
 * where it began, the options in force, and what decided the CPU's last bits
 * besides the options, so that a run tells what trained each stretch of it. */
typedef struct {
    int64_t from;                 /* the iteration it continued from (0: the run's start) */
    sg_train_options opt;         /* the "training" options, device and precision included */
    int threads_used;             /* CPU threads it computed with (sg_backend_cpu_threads);
                                     0: not the CPU, or not recorded */
    char numerics[192];           /* sg_backend_cpu_numerics; "": not the CPU, or not recorded */
    char created_by[128];         /* the build ("stargan-c 0.1.0 (git ...)"); "": not recorded */
} sg_train_session;

/* The dataset name sg-train gives a shard (config.json, checkpoints, and
 * sg-sample's --targets N:NAME): its last path component without ".lmdb"
 * (trailing slashes ignored), cut to n - 1 bytes; a last component "." or
 * ".." is replaced by the canonical path's (realpath: x.lmdb/. is "x"). */
void sg_run_dataset_name(const char *shard_path, char *out, size_t n);
/* RUN/config.json: options and shard paths of an existing run. */
int sg_run_config_read(const char *run_dir, sg_train_options *opt, char ***shard_paths,
                       int *n_shards, sg_err *err);
void sg_run_free_paths(char **paths, int n);
/* RUN/config.json's shard paths alone (free with sg_run_free_paths): for a
 * reader of the run's datasets, not of its options. The file is read and
 * checked as sg_run_config_read reads it: one sg-train --resume would
 * refuse records no shards either. */
int sg_run_shard_paths(const char *run_dir, char ***shard_paths, int *n_shards, sg_err *err);
/* 1 if RUN/config.json exists, else 0. */
int sg_run_exists(const char *run_dir);
/* When a run without a checkpoint gets its first, for a message (n bytes):
 * "sg-train writes its first at iteration 500 (--save-every in config.json)
 * or when it is stopped before"; the end of the run (--iters) where that
 * comes first; without a readable config.json, in general terms. */
void sg_run_first_save(const char *run_dir, char *out, size_t n);
/* The error of a --resume where RUN/config.json does not exist, saying what to
 * do: restore it when the run's other files are there, else start the run
 * (one stopped before writing it leaves none). Returns -1. */
int sg_run_resume_missing(const char *run_dir, sg_err *err);

/* ---- for the trainer (lib/trainer.c) ---- */

/* The CUDA backend's convolution engine choices (lib/backend.h): saved with
 * each checkpoint when new ones were made, loaded on resume, so that a
 * resumed run computes what the uninterrupted one would have. */
#define SG_RUN_ENGINES_FILE "cudnn-engines.txt"

/* out = "RUN_DIR/NAME" (n bytes; cut short to fit) */
void sg_run_file(char *out, size_t n, const char *run_dir, const char *name);
/* A run's files without its config.json (deleted by hand, or what an
 * interrupted --force had yet to delete: it removes config.json before the
 * checkpoints): -1 and the error that says what to do in either case; 0
 * when there are none. */
int sg_run_refuse_files_left(const char *run_dir, sg_err *err);
/* A file named as a run's (config.json, history.jsonl, latest,
 * cudnn-engines.txt) that sg-train did not write: a configuration without
 * the run format, a history whose first line is no record of sg-train's (an
 * empty one is), a latest that is no checkpoint number, an engines file
 * neither parsed nor headed as sg-train's, or a FIFO, device or directory
 * of that name. -1 and an error naming it and saying to move it or choose
 * another -o; 0 when every one there is a run's. What an interrupted
 * --force left is a run's. */
int sg_run_refuse_foreign(const char *run_dir, sg_err *err);
/* Removes what a run writes (config.json, history.jsonl, latest,
 * cudnn-engines.txt, the checkpoints' NNNNNN-G, -D and -state.safetensors in
 * ckpt/ and the NNNNNN.png in samples/, not other files there) so
 * that a new run can start in RUN (sg-train --force); refuses first, removing
 * nothing, where sg_run_refuse_foreign does. */
int sg_run_clear(const char *run_dir, sg_err *err);
/* --force on a run that a newer stargan-c wrote (config.json's format
 * newer than this build's, or a checkpoint of a newer format, as a resume
 * refuses them): -1 and an error saying to remove it by hand; else 0. A
 * pipeline or script of an older build passes --force as it always did, and
 * would silently throw away work this build cannot even read. */
int sg_run_refuse_newer(const char *run_dir, sg_err *err);
/* Temporary files of writes that were killed (every file of a run is written
 * as NAME.tmp.PID.N, sg_temp_name, and renamed; NAME.tmp.PID by earlier
 * versions): checkpoints ("ckpt/NNNNNN-G.safetensors.tmp.PID.N"), samples
 * ("samples/NNNNNN.png.tmp.PID.N"), latest, config.json, history.jsonl and
 * the engines file. Only those names, NAME exactly one of sg-train's, and
 * only when PID is gone or this process (a write cut short by a move of the
 * run directory): a user's "config.json.tmp.bak" stays, and so does the
 * file of another live process (on a file system without locks). Called
 * once the run directory is locked (the trainer's lock_run_dir), so no
 * other sg-train is writing them (unless the file system has no locks). */
void sg_run_remove_stale_tmp(const char *run_dir);
/* run_dir's config.json (its path in path) read and parsed into *root, then a
 * check of its "format": a stargan-c run configuration of a version this one
 * reads. version: config.json's format version (1 to the newest this build
 * reads); may be NULL */
int sg_run_read_config_json(const char *run_dir, json_value **root, long *version, char *path, size_t pn,
                            sg_err *err);

/* config.json's record of a run's G schedule and of its starts, carried
 * from a resume's read of it (sg_run_keep_sessions) to every write of it
 * (sg_run_write_config). */
typedef struct {
    /* A resume of several datasets from a checkpoint of the former G
     * schedule (sg_trainer_former_schedule) that has not yet saved a
     * checkpoint: config.json stays "stargan-c-run/1" until then */
    int former_schedule;
    /* config.json's "g_rounds_from": a run of the former schedule's first
     * checkpoint in rounds (0: none, or in rounds from its start). A resume
     * from an earlier checkpoint (one killed before latest named that one)
     * is of the former schedule, whatever the format says. */
    int64_t rounds_from;
    /* config.json's "sessions": the earlier starts' entries kept (JSON, one
     * a line), then this start's (sg_run_write_config) */
    sg_buf sessions_kept;
    int n_sessions_kept;
    sg_train_session session;     /* this start */
    sg_train_session resumed;     /* the start that trained up to the checkpoint resumed from */
    int has_resumed;
} sg_run_record;

/* A run's datasets as the trainer holds them, for config.json's writer and
 * its checks: the shards open, their absolute paths, and the datasets' names
 * (sg_run_check_datasets sets them to the run's). */
typedef struct {
    const char *run_dir;
    int n;
    sg_shard *const *shards;
    char *const *paths;
    char (*names)[SG_CKPT_NAME_MAX];
} sg_run_datasets;

/* Where the checks of config.json put a note for the tool (sg_trainer_note). */
typedef void (*sg_run_note_fn)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* config.json of the run of datasets d, model c and options o, with r's
 * schedule and starts (this start's options set to o). */
int sg_run_write_config(const sg_run_datasets *d, const sg_model_config *c, const sg_train_options *o,
                        sg_run_record *r, sg_err *err);
/* A resume from iteration iter of the run in run_dir (of n_datasets, its
 * options now: now): config.json's "sessions" entries that trained before
 * it kept in r (one that started at it or later trained only iterations the
 * resume drops), the last of them read into r->resumed. A run from before
 * "sessions" gets one entry from 0 with its "training" (the options of its
 * last start, all config.json held). From the same read, r->former_schedule
 * for a run of several datasets. */
int sg_run_keep_sessions(const char *run_dir, int n_datasets, int64_t iter, const sg_train_options *now,
                         sg_run_record *r, sg_err *err);
/* A shard given twice (dup: its two positions; paths as given). Returns -1. */
int sg_run_shard_twice(const char *const *given, const int dup[2], sg_err *err);
/* Checks that the shards of d (given: as given on the command line, or the
 * run's) are the datasets config.json recorded, and gives them the run's
 * names; what goes on but differs from the run is a note. dup: the
 * positions of a shard given twice ({-1, -1}: none), refused unless the run
 * was trained so. */
int sg_run_check_datasets(const sg_run_datasets *d, const char *const *given, const int dup[2],
                          sg_run_note_fn note, void *note_ctx, sg_err *err);

#endif

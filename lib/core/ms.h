/* ms: core library. Errors, allocation, tensors, the record stream. */
#ifndef MS_H
#define MS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors: library code records a message and returns -1 (or NULL) */
int ms_error(const char *fmt, ...);         /* "...:" appends strerror(errno); returns -1 */
const char *ms_errmsg(void);                /* last message, "" if none */

/* ---- tools only: program name, die/warn (prefix "ms-tool: ") */
extern const char *argv0;
void ms_setprog(char **argv);          /* argv0 = basename of argv[0] */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void usage_die(const char *usage) __attribute__((noreturn)); /* exit 2 */
/* a usage error with its reason: "ms-tool: reason", the usage line, exit 2 */
void usage_error(const char *usage, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
int fshut(FILE *f, const char *name);       /* flush + close check, returns 0/1 */

#define MS_ASSERT(c) do { if (!(c)) ms_assert_fail(#c, __FILE__, __LINE__); } while (0)
void ms_assert_fail(const char *what, const char *file, int line) __attribute__((noreturn));

/* ---- allocation: overflow-checked, NULL + ms_error on failure */
void *ms_malloc(size_t n);
void *ms_calloc(size_t nmemb, size_t size);
void *ms_reallocarray(void *p, size_t nmemb, size_t size);
char *ms_strdup(const char *s);
/* tools: die on failure */
void *emalloc(size_t n);
void *ecalloc(size_t nmemb, size_t size);
void *ereallocarray(void *p, size_t nmemb, size_t size);
char *estrdup(const char *s);
int ms_mul_overflow(size_t a, size_t b, size_t *out); /* 1 on overflow */

/* ---- numbers and options */
int ms_parse_int(const char *s, long lo, long hi, long *out);      /* -1 on error */
int ms_parse_double(const char *s, double lo, double hi, double *out);
int ms_parse_size(const char *s, int *w, int *h);                  /* "WxH" */
int ms_name_index(const char *s, const char *const *names, int n); /* -1 if none */
/* the one thread pool: ms_threads resolves --threads / MS_THREADS (default: the CPUs),
 * starts the pool and runs OpenBLAS single-threaded inside it; returns the threads */
int ms_threads(int requested);
int ms_nthreads(void);
/* runs f(ctx, tid, nt) on nt = min(items, threads) threads (tid 0 the caller) and waits;
 * inline with nt = 1 when nested. ms_range: the part [lo, hi) of n items that is tid's */
typedef void ms_task(void *ctx, int tid, int nt);
void ms_parallel(int items, ms_task *f, void *ctx);
void ms_range(long n, int tid, int nt, long *lo, long *hi);

/* ---- tensors: dense, row-major, outermost first ([C,H,W], [N,C,H,W]) */
enum { MS_INVALID = 0, MS_U8 = 1, MS_U16 = 2, MS_I32 = 3, MS_F32 = 4 };
#define MS_MAX_RANK 4

typedef struct {
	int dtype;
	int rank;
	int64_t shape[MS_MAX_RANK];
	void *data;
} ms_tensor;

size_t ms_dtype_size(int dtype);        /* 0 for invalid */
const char *ms_dtype_name(int dtype);   /* "u8", ..., NULL for invalid */
int ms_dtype_parse(const char *s);      /* MS_INVALID if unknown */
int64_t ms_tensor_numel(const ms_tensor *t);
size_t ms_tensor_bytes(const ms_tensor *t);
/* allocate zeroed data for the given dtype and shape; -1 on overflow/OOM */
int ms_tensor_alloc(ms_tensor *t, int dtype, int rank, const int64_t *shape);
void ms_tensor_free(ms_tensor *t);       /* frees data, NULL-safe, leaves dtype/shape */
/* convert in place to f32 (u8/u16 scaled to [0,1] when scale is set, else raw values) */
int ms_tensor_to_f32(ms_tensor *t, int scale);

/* ---- records and streams (man ms-stream(5)) */
#define MS_MAGIC "MSTR"
#define MS_VERSION 1
#define MS_HEADER_SIZE 48
#define MS_ALIGN 64
#define MS_NAME_MAX 255
#define MS_META_MAX 65536
#define MS_PAYLOAD_MAX ((uint64_t)1 << 36)   /* 64 GiB decoded */
#define MS_FLAG_ZLIB 1u
#define MS_FLAGS_KNOWN MS_FLAG_ZLIB

typedef struct {
	char name[MS_NAME_MAX + 1];
	char *meta;              /* "key=value\n"... , NUL-terminated, may be NULL */
	size_t meta_len;
	unsigned flags;          /* MS_FLAG_ZLIB: compress when written */
	ms_tensor t;             /* t.data NULL until the payload is read */
	/* set by the reader */
	uint64_t stored_len;     /* payload bytes in the stream */
	int payload_pending;     /* header read, payload not yet consumed */
} ms_rec;

/* Reading: ms_rec_read_header returns 1 (record), 0 (clean end), -1 (error).
 * Then exactly one of: ms_rec_read_data (decode payload into r->t.data),
 * ms_rec_copy (write the record through byte for byte), ms_rec_skip. */
int ms_rec_read_header(FILE *in, ms_rec *r);
int ms_rec_read_data(FILE *in, ms_rec *r);
int ms_rec_copy(FILE *in, ms_rec *r, FILE *out);
int ms_rec_skip(FILE *in, ms_rec *r);
/* read header and data in one go */
int ms_rec_read(FILE *in, ms_rec *r);
/* write header + payload from r->t (compressed if r->flags & MS_FLAG_ZLIB) */
int ms_rec_write(FILE *out, const ms_rec *r);
void ms_rec_free(ms_rec *r);             /* frees meta and data; r reusable after */
void ms_rec_init(ms_rec *r);
/* a new record owning t (t's data moved into r) */
int ms_rec_set(ms_rec *r, const char *name, const ms_tensor *t);
int ms_rec_set_name(ms_rec *r, const char *name);

/* metadata: keys [A-Za-z0-9_.-]+, values without newline */
const char *ms_meta_get(const ms_rec *r, const char *key, char *buf, size_t bufsz);
int ms_meta_set(ms_rec *r, const char *key, const char *value);  /* NULL value deletes */
int ms_meta_copy(ms_rec *dst, const ms_rec *src);                /* replace all */
int ms_name_valid(const char *name);

/* the NaN and Inf policy (ms-stream(5), NON-FINITE VALUES): 0 when every value of an f32
 * record is finite (other dtypes always are), else -1 and a message naming the sample,
 * the record and the first such value */
int ms_rec_check_finite(const ms_rec *r);

/* a sample is the run of consecutive records with the same id= */
const char *ms_rec_id(const ms_rec *r, char *buf, size_t bufsz);  /* "" if none */

/* atomic output files: written unnamed (O_TMPFILE) and linked into place on commit, or
 * where the file system cannot, written to path.tmpXXXXXX and renamed; a rename replaces
 * only a regular file. A path naming a FIFO or a device is written in place, never
 * replaced */
enum { MS_OUT_NAMED, MS_OUT_UNNAMED, MS_OUT_SPECIAL };
typedef struct {
	FILE *f;
	char *path, *tmp;        /* tmp: the temporary's name while it has one */
	int kind;                /* MS_OUT_* */
} ms_outfile;
int ms_outfile_open(ms_outfile *o, const char *path);
int ms_outfile_commit(ms_outfile *o);   /* flush, fsync-free close, link or rename */
void ms_outfile_abort(ms_outfile *o);   /* unlink the temporary, NULL-safe */
/* tools: remove every open temporary on die() or a fatal signal */
void ms_outfile_cleanup_all(void);

/* training loops: SIGINT and SIGTERM only set a flag, which the loop polls between steps
 * to checkpoint and exit 128 + signal. Checkpoints are saved between ms_stop_hold and
 * ms_stop_release (signals held; release puts back the handlers that ms_outfile_open
 * replaces with its own) */
void ms_stop_catch(void);                /* installs the handlers, clears the flag */
int ms_stop_signal(void);                /* the signal caught, or 0 */
void ms_stop_hold(void);
void ms_stop_release(void);

/* ---- counter-based RNG (Philox4x32-10): values depend only on (seed, stream, counter),
 * so a stream can be re-created anywhere (per sample id, per step) */
typedef struct {
	uint32_t key[2];
	uint64_t stream, ctr;
	uint32_t buf[4];
	int left;
} ms_rng;
void ms_rng_init(ms_rng *r, uint64_t seed, uint64_t stream);
uint32_t ms_rng_u32(ms_rng *r);
double ms_rng_uniform(ms_rng *r);          /* [0,1), 53 random bits */
float ms_rng_normal(ms_rng *r);            /* N(0,1), Box-Muller */
uint32_t ms_rng_below(ms_rng *r, uint32_t n);  /* uniform in [0,n), unbiased */
uint64_t ms_hash64(const char *s);         /* FNV-1a, e.g. stream = hash of a sample id */
/* a sample id's place in [0, 1), uniform over ids: the fixed hold-out splits (ms-segment
 * --val-fraction F, ms-pick --holdout F) are the ids below F */
double ms_id_fraction(const char *id);

#endif

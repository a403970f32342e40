/* Records and the record stream, ms-stream(5) (stream.c). */
#ifndef MS_STREAM_H
#define MS_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/tensor.h"

/* ---- records and streams (man ms-stream(5)) */
#define MS_MAGIC "MSTR"
#define MS_VERSION 1
#define MS_HEADER_SIZE 48
#define MS_ALIGN 64
#define MS_NAME_MAX 255
#define MS_META_MAX 65536
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
	void *raw;               /* the stored payload, undecoded (ms_rec_read_raw) */
} ms_rec;

/* Reading: ms_rec_read_header returns 1 (record), 0 (clean end), -1 (error).
 * Then exactly one of: ms_rec_read_data (decode payload into r->t.data),
 * ms_rec_copy (write the record through byte for byte), ms_rec_skip. */
int ms_rec_read_header(FILE *in, ms_rec *r);
int ms_rec_read_data(FILE *in, ms_rec *r);
int ms_rec_copy(FILE *in, ms_rec *r, FILE *out);
int ms_rec_skip(FILE *in, ms_rec *r);
/* or, as a third way, the stored payload into r->raw undecoded (stored_len bytes), for
 * ms_rec_decode later or for ms_rec_write to write back byte for byte */
int ms_rec_read_raw(FILE *in, ms_rec *r);
int ms_rec_decode(ms_rec *r);           /* r->raw to r->t.data; no-op when decoded */
/* read header and data in one go */
int ms_rec_read(FILE *in, ms_rec *r);
/* write header + payload from r->t (compressed if r->flags & MS_FLAG_ZLIB), or, while
 * r->t.data is NULL and r->raw holds it, the stored payload as read */
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

#endif

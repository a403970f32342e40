/* Samples: the run of consecutive records with one id= (ms-stream(5)), read whole by
 * one reader that every tool shares (after mblaze's message reader). Payloads stay as
 * stored until a tool asks for a record's data, so records a tool passes on are written
 * back byte for byte and records it ignores are never decoded. */
#ifndef MS_SAMPLE_H
#define MS_SAMPLE_H

#include <stdio.h>
#include "io/stream.h"

typedef struct {
	ms_rec *rec;                  /* its records in stream order; rec[i].t.data is NULL
	                               * (rec[i].raw holds the payload) until decoded */
	int n, cap;
	char *id;                     /* "" for records without id= */
} ms_sample;

typedef struct {
	FILE *in;
	const char *name;             /* for messages, e.g. "<stdin>" or a file name */
	ms_rec next;                  /* the first record of the next sample, read ahead */
	int have;
	long samples;                 /* samples read so far */
} ms_reader;

void ms_reader_init(ms_reader *rd, FILE *in, const char *name);
void ms_reader_free(ms_reader *rd);
/* the next sample into s (its old records freed): 1, 0 at the end of the stream, -1 with
 * the reason prefixed by the stream's name. On -1, s holds the records read before the
 * error: the whole sample when the broken record is the first of the next one (the end
 * of a sample is known only from the next record), else the part before it; a tool
 * that writes per sample may use them or not (ms-pick and ms-export do, as records
 * complete before the break) */
int ms_sample_next(ms_reader *rd, ms_sample *s);

/* the loop of a filter: fn on every sample of in (name for messages) in turn; fn may
 * take the sample over (leaving it initialised). Returns 0 at the end of the stream, -1
 * with the reason when reading fails or fn returns -1. */
int ms_sample_each(FILE *in, const char *name, int (*fn)(ms_sample *s, void *ctx),
                   void *ctx);

void ms_sample_init(ms_sample *s);
void ms_sample_free(ms_sample *s);      /* s reusable after */
/* the index of the record NAME, -1 if the sample has none; -2 (with a message naming
 * sample and record) if it has more than one */
int ms_sample_find(const ms_sample *s, const char *name);
/* the record NAME with its data decoded and checked against the NaN and Inf policy
 * (ms_rec_check_finite); NULL with ms_errmsg() "" if the sample has none, NULL with the
 * reason if it has more than one or its payload is bad */
ms_rec *ms_sample_get(ms_sample *s, const char *name);
/* appends r (the sample takes it over; r is left empty); -1 on allocation failure */
int ms_sample_add(ms_sample *s, ms_rec *r);
void ms_sample_drop(ms_sample *s, int i);         /* removes and frees record i */
/* every record in order: undecoded ones byte for byte, decoded ones encoded again */
int ms_sample_write(FILE *out, const ms_sample *s);

#endif

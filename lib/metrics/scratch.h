/* What the metrics share: a scratch buffer, the largest image side (scratch.c). */
#ifndef MS_SCRATCH_H
#define MS_SCRATCH_H

#include <stddef.h>

/* a growable scratch buffer a caller keeps between calls (zero-initialise it) */
typedef struct {
	void *p;
	size_t cap;
} ms_scratch;
void ms_scratch_free(ms_scratch *s);
/* at least n bytes of s (grown as needed), NULL + ms_error when out of memory */
void *ms_scratch_get(ms_scratch *s, size_t n);

#define MS_METRICS_MAXDIM 32767   /* largest height or width (int indices) */

#endif

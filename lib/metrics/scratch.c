/* The growable scratch buffer the metrics share. */
#include <stdlib.h>

#include "core/util.h"
#include "metrics/scratch.h"

void ms_scratch_free(ms_scratch *s)
{
	if (!s)
		return;
	free(s->p);
	s->p = NULL;
	s->cap = 0;
}

void *ms_scratch_get(ms_scratch *s, size_t n)
{
	if (n > s->cap) {
		void *p = ms_reallocarray(s->p, n, 1);
		if (!p)
			return NULL;
		s->p = p;
		s->cap = n;
	}
	return s->p;
}

/* The shared sample reader (sample.h). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/sample.h"

void ms_reader_init(ms_reader *rd, FILE *in, const char *name)
{
	memset(rd, 0, sizeof *rd);
	rd->in = in;
	rd->name = name;
	ms_rec_init(&rd->next);
}

void ms_reader_free(ms_reader *rd)
{
	ms_rec_free(&rd->next);
	rd->have = 0;
}

void ms_sample_init(ms_sample *s)
{
	memset(s, 0, sizeof *s);
}

static void clear(ms_sample *s)
{
	for (int i = 0; i < s->n; i++)
		ms_rec_free(&s->rec[i]);
	s->n = 0;
	free(s->id);
	s->id = NULL;
}

void ms_sample_free(ms_sample *s)
{
	clear(s);
	free(s->rec);
	ms_sample_init(s);
}

int ms_sample_add(ms_sample *s, ms_rec *r)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 8;
		ms_rec *p = ms_reallocarray(s->rec, (size_t)cap, sizeof *p);
		if (!p)
			return -1;
		s->rec = p;
		s->cap = cap;
	}
	s->rec[s->n++] = *r;
	ms_rec_init(r);
	return 0;
}

void ms_sample_drop(ms_sample *s, int i)
{
	ms_rec_free(&s->rec[i]);
	memmove(&s->rec[i], &s->rec[i + 1], (size_t)(s->n - i - 1) * sizeof *s->rec);
	s->n--;
}

/* the id of r, allocated */
static char *id_of(const ms_rec *r)
{
	char *id = ms_malloc(MS_META_MAX + 1);
	if (id)
		ms_rec_id(r, id, MS_META_MAX + 1);
	return id;
}

int ms_sample_next(ms_reader *rd, ms_sample *s)
{
	int ret;
	clear(s);
	for (;;) {
		if (!rd->have) {
			ret = ms_rec_read_header(rd->in, &rd->next);
			if (ret == 1 && ms_rec_read_raw(rd->in, &rd->next) < 0)
				ret = -1;
			if (ret < 0)
				return ms_error("%s: %s", rd->name, ms_errmsg());
			if (!ret)
				break;
			rd->have = 1;
		}
		char *id = id_of(&rd->next);
		if (!id)
			return -1;
		if (s->n && strcmp(id, s->id)) {
			free(id);
			break;
		}
		if (!s->n)
			s->id = id;
		else
			free(id);
		if (ms_sample_add(s, &rd->next) < 0)
			return -1;
		rd->have = 0;
	}
	if (!s->n)
		return 0;
	rd->samples++;
	return 1;
}

int ms_sample_each(FILE *in, const char *name, int (*fn)(ms_sample *s, void *ctx),
                   void *ctx)
{
	ms_reader rd;
	ms_sample s;
	int ret;
	ms_reader_init(&rd, in, name);
	ms_sample_init(&s);
	while ((ret = ms_sample_next(&rd, &s)) == 1)
		if (fn(&s, ctx) < 0) {
			ret = -1;
			break;
		}
	ms_sample_free(&s);
	ms_reader_free(&rd);
	return ret;
}

int ms_sample_find(const ms_sample *s, const char *name)
{
	int k = -1;
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->rec[i].name, name)) {
			if (k >= 0) {
				ms_error("sample '%s' has more than one '%s' record", s->id, name);
				return -2;
			}
			k = i;
		}
	return k;
}

ms_rec *ms_sample_get(ms_sample *s, const char *name)
{
	int i = ms_sample_find(s, name);
	if (i == -1)
		ms_error("%s", "");
	if (i < 0)
		return NULL;
	ms_rec *r = &s->rec[i];
	if (ms_rec_decode(r) < 0) {
		ms_error("sample '%s': %s", s->id, ms_errmsg());
		return NULL;
	}
	return ms_rec_check_finite(r) < 0 ? NULL : r;
}

int ms_sample_write(FILE *out, const ms_sample *s)
{
	for (int i = 0; i < s->n; i++)
		if (ms_rec_write(out, &s->rec[i]) < 0)
			return -1;
	return 0;
}

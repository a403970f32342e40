/* The shared sample reader (io/sample.h): grouping by id, payloads kept as stored and
 * written back byte for byte, decoding on demand, duplicate and bad records. */
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "core/ms.h"
#include "io/sample.h"
#include "test.h"

/* a record NAME of sample ID: f32 [1,2,3] with values v, v+1, ... */
static void put(FILE *f, const char *id, const char *name, float v, unsigned flags)
{
	ms_rec r;
	ms_tensor t;
	int64_t shape[3] = { 1, 2, 3 };
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, MS_F32, 3, shape) == 0);
	for (int i = 0; i < 6; i++)
		((float *)t.data)[i] = v + (float)i;
	CHECK(ms_rec_set(&r, name, &t) == 0);
	if (id)
		CHECK(ms_meta_set(&r, "id", id) == 0);
	r.flags = flags;
	CHECK(ms_rec_write(f, &r) == 0);
	ms_rec_free(&r);
}

/* a record compressed at level 1, as another writer might: its bytes differ from what
 * ms_rec_write (level 6) would make of the same values */
static void put_level1(FILE *f, const char *id)
{
	ms_rec r;
	ms_tensor t;
	int64_t shape[1] = { 4096 };
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, MS_U8, 1, shape) == 0);
	for (int i = 0; i < 4096; i++)
		((unsigned char *)t.data)[i] = (unsigned char)((i * i) % 251 / 16);
	uLongf zl = compressBound(4096);
	unsigned char *z = malloc(zl);
	CHECK(compress2(z, &zl, t.data, 4096, 1) == Z_OK);
	CHECK(ms_rec_set(&r, "note", &t) == 0);
	CHECK(ms_meta_set(&r, "id", id) == 0);
	r.flags = MS_FLAG_ZLIB;
	free(r.t.data);                         /* the level-1 bytes as stored payload */
	r.t.data = NULL;
	r.raw = z;
	r.stored_len = zl;
	CHECK(ms_rec_write(f, &r) == 0);
	ms_rec_free(&r);
}

static unsigned char *slurp(FILE *f, size_t *n)
{
	fflush(f);
	*n = (size_t)ftell(f);
	unsigned char *b = malloc(*n + 1);
	rewind(f);
	CHECK(fread(b, 1, *n, f) == *n);
	return b;
}

static void test_read(void)
{
	FILE *f = tmpfile();
	put(f, "a", "image", 0, 0);
	put(f, "a", "mask", 10, MS_FLAG_ZLIB);
	put_level1(f, "a");
	put(f, "b", "image", 20, 0);
	put(f, NULL, "note", 30, 0);
	put(f, NULL, "note", 40, 0);
	put(f, "a", "image", 50, 0);         /* an id may come back later: a new sample */
	size_t n;
	unsigned char *in = slurp(f, &n);
	rewind(f);
	ms_reader rd;
	ms_sample s;
	ms_reader_init(&rd, f, "<test>");
	ms_sample_init(&s);
	FILE *out = tmpfile();
	int ids = 0;
	const char *want[] = { "a", "b", "", "a" };
	const int nrec[] = { 3, 1, 2, 1 };
	while (ms_sample_next(&rd, &s) == 1) {
		CHECK(ids < 4 && !strcmp(s.id, want[ids]) && s.n == nrec[ids]);
		for (int i = 0; i < s.n; i++)
			CHECK(s.rec[i].t.data == NULL && (s.rec[i].raw || !s.rec[i].stored_len));
		if (ids == 0) {
			ms_rec *m = ms_sample_get(&s, "mask");
			CHECK(m && m->t.data && ((float *)m->t.data)[5] == 15);
			CHECK(ms_sample_find(&s, "image") == 0 && ms_sample_find(&s, "pred") == -1);
			CHECK(!ms_sample_get(&s, "pred") && !*ms_errmsg());
			ms_rec *z = ms_sample_get(&s, "note");
			CHECK(z && ((unsigned char *)z->t.data)[100] == (100 * 100) % 251 / 16);
		}
		if (ids == 2) {
			CHECK(ms_sample_find(&s, "note") == -2);
			CHECK(!ms_sample_get(&s, "note") &&
			      !strcmp(ms_errmsg(), "sample '' has more than one 'note' record"));
		}
		CHECK(ms_sample_write(out, &s) == 0);
		ids++;
	}
	CHECK(ids == 4 && rd.samples == 4);
	CHECK(ms_sample_next(&rd, &s) == 0 && s.n == 0);
	size_t m;
	unsigned char *o = slurp(out, &m);
	/* the level-1 record was decoded (ms_sample_get) and so encoded again at level 6: the
	 * stream differs; a second pass that decodes nothing gives back every byte */
	CHECK(m > 0 && (m != n || memcmp(o, in, n)));
	rewind(f);
	fclose(out);
	out = tmpfile();
	ms_reader_free(&rd);
	ms_reader_init(&rd, f, "<test>");
	while (ms_sample_next(&rd, &s) == 1)
		CHECK(ms_sample_write(out, &s) == 0);
	free(o);
	o = slurp(out, &m);
	CHECK(m == n && !memcmp(o, in, n));
	ms_sample_free(&s);
	ms_reader_free(&rd);
	free(o);
	free(in);
	fclose(out);
	fclose(f);
}

static void test_edit(void)
{
	FILE *f = tmpfile();
	put(f, "a", "image", 0, 0);
	put(f, "a", "mask", 1, 0);
	put(f, "a", "prob", 2, 0);
	rewind(f);
	ms_reader rd;
	ms_sample s;
	ms_reader_init(&rd, f, "<test>");
	ms_sample_init(&s);
	CHECK(ms_sample_next(&rd, &s) == 1 && s.n == 3);
	ms_sample_drop(&s, 1);
	CHECK(s.n == 2 && !strcmp(s.rec[1].name, "prob"));
	ms_rec r;
	ms_tensor t;
	int64_t one = 1;
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, MS_U8, 1, &one) == 0);
	CHECK(ms_rec_set(&r, "pred", &t) == 0 && ms_sample_add(&s, &r) == 0);
	CHECK(s.n == 3 && !strcmp(s.rec[2].name, "pred") && r.t.data == NULL);
	ms_sample_free(&s);
	ms_reader_free(&rd);
	fclose(f);
}

static void test_errors(void)
{
	FILE *f = tmpfile();
	put(f, "a", "image", 0, 0);
	put(f, "a", "prob", NAN, 0);
	put(f, "b", "image", 0, 0);
	size_t n;
	unsigned char *in = slurp(f, &n);
	ms_reader rd;
	ms_sample s;
	rewind(f);
	ms_reader_init(&rd, f, "<test>");
	ms_sample_init(&s);
	CHECK(ms_sample_next(&rd, &s) == 1);
	CHECK(ms_sample_get(&s, "image") && !ms_sample_get(&s, "prob"));
	CHECK(strstr(ms_errmsg(), "sample 'a', record 'prob': non-finite"));
	ms_reader_free(&rd);
	/* a stream cut inside the second sample's record: the error names the stream; it
	 * comes with the first sample, whose end is only known from the next record */
	FILE *g = tmpfile();
	fwrite(in, 1, n - 70, g);
	rewind(g);
	ms_reader_init(&rd, g, "cut.ms");
	CHECK(ms_sample_next(&rd, &s) == -1 && !strncmp(ms_errmsg(), "cut.ms: truncated", 17));
	CHECK(s.n == 2 && !strcmp(s.id, "a"));      /* the complete sample before the break */
	ms_sample_free(&s);
	ms_reader_free(&rd);
	free(in);
	fclose(g);
	fclose(f);
}

int main(void)
{
	RUN(test_read);
	RUN(test_edit);
	RUN(test_errors);
	return test_summary("sample");
}

/* Record stream: round trips, metadata, pass-through, and every malformed-header error. */
#include <string.h>

#include "core/ms.h"
#include "io/stream.h"
#include "test.h"

static FILE *mem(const void *buf, size_t n)
{
	FILE *f = tmpfile();
	fwrite(buf, 1, n, f);
	rewind(f);
	return f;
}

static void make_rec(ms_rec *r, int dtype, int flags)
{
	int64_t shape[3] = { 1, 3, 5 };
	ms_tensor t;
	ms_rec_init(r);
	CHECK(ms_tensor_alloc(&t, dtype, 3, shape) == 0);
	for (size_t i = 0; i < ms_tensor_bytes(&t); i++)
		((unsigned char *)t.data)[i] = (unsigned char)(i * 7);
	CHECK(ms_rec_set(r, "image", &t) == 0);
	CHECK(ms_meta_set(r, "id", "case_1") == 0);
	CHECK(ms_meta_set(r, "prompt", "breast ultrasound") == 0);
	r->flags = flags;
}

/* write one record, return the bytes */
static unsigned char *encode(const ms_rec *r, size_t *n)
{
	FILE *f = tmpfile();
	CHECK(ms_rec_write(f, r) == 0);
	*n = (size_t)ftell(f);
	unsigned char *b = malloc(*n);
	rewind(f);
	CHECK(fread(b, 1, *n, f) == *n);
	fclose(f);
	return b;
}

static void test_roundtrip(void)
{
	for (int z = 0; z < 2; z++)
		for (int d = MS_U8; d <= MS_F32; d++) {
			ms_rec a, b;
			size_t n;
			char buf[64];
			make_rec(&a, d, z ? MS_FLAG_ZLIB : 0);
			unsigned char *bytes = encode(&a, &n);
			CHECK(n % MS_ALIGN == 0);
			FILE *f = mem(bytes, n);
			ms_rec_init(&b);
			CHECK(ms_rec_read(f, &b) == 1);
			CHECK(!strcmp(b.name, "image") && b.t.dtype == d && b.t.rank == 3);
			CHECK(b.t.shape[0] == 1 && b.t.shape[1] == 3 && b.t.shape[2] == 5);
			CHECK(!memcmp(a.t.data, b.t.data, ms_tensor_bytes(&a.t)));
			CHECK(!strcmp(ms_meta_get(&b, "prompt", buf, sizeof buf), "breast ultrasound"));
			CHECK(!strcmp(ms_rec_id(&b, buf, sizeof buf), "case_1"));
			CHECK(ms_meta_get(&b, "missing", buf, sizeof buf) == NULL);
			CHECK(ms_rec_read(f, &b) == 0);   /* clean end */
			fclose(f);
			ms_rec_free(&a);
			ms_rec_free(&b);
			free(bytes);
		}
}

static void test_copy_is_byte_exact(void)
{
	ms_rec a, b;
	size_t n;
	make_rec(&a, MS_F32, MS_FLAG_ZLIB);
	unsigned char *bytes = encode(&a, &n);
	FILE *in = mem(bytes, n), *out = tmpfile();
	ms_rec_init(&b);
	CHECK(ms_rec_read_header(in, &b) == 1);
	CHECK(ms_rec_copy(in, &b, out) == 0);
	CHECK((size_t)ftell(out) == n);
	unsigned char *got = malloc(n);
	rewind(out);
	CHECK(fread(got, 1, n, out) == n);
	CHECK(!memcmp(got, bytes, n));
	fclose(in);
	fclose(out);
	free(got);
	free(bytes);
	ms_rec_free(&a);
	ms_rec_free(&b);
}

static void test_meta_edit(void)
{
	ms_rec r;
	char buf[64];
	make_rec(&r, MS_U8, 0);
	CHECK(ms_meta_set(&r, "id", "other") == 0);
	CHECK(!strcmp(ms_meta_get(&r, "id", buf, sizeof buf), "other"));
	CHECK(!strcmp(ms_meta_get(&r, "prompt", buf, sizeof buf), "breast ultrasound"));
	CHECK(ms_meta_set(&r, "prompt", NULL) == 0);
	CHECK(ms_meta_get(&r, "prompt", buf, sizeof buf) == NULL);
	CHECK(ms_meta_set(&r, "bad key", "x") < 0);
	CHECK(ms_meta_set(&r, "k", "a\nb") < 0);
	CHECK(ms_rec_set_name(&r, "no/slash") < 0);
	ms_rec_free(&r);
}

/* corrupt one header field of a valid record and expect an error naming it */
static void expect_error(const unsigned char *good, size_t n, size_t off, const void *val,
                         size_t len, size_t cut, const char *msg)
{
	unsigned char *b = malloc(n);
	memcpy(b, good, n);
	memcpy(b + off, val, len);
	FILE *f = mem(b, cut ? cut : n);
	ms_rec r;
	ms_rec_init(&r);
	int ret = ms_rec_read(f, &r);
	CHECK(ret == -1);
	if (!strstr(ms_errmsg(), msg)) {
		fprintf(stderr, "expected '%s', got '%s'\n", msg, ms_errmsg());
		CHECK(0);
	}
	ms_rec_free(&r);
	fclose(f);
	free(b);
}

static void test_malformed(void)
{
	ms_rec a;
	size_t n;
	make_rec(&a, MS_F32, 0);
	unsigned char *g = encode(&a, &n);
	uint32_t huge[2] = { 0xffffffffu, 0xffffffffu };
	uint32_t big = 1u << 20;
	unsigned char v;
	expect_error(g, n, 0, "XXXX", 4, 0, "bad magic");
	v = 9; expect_error(g, n, 4, &v, 1, 0, "version");
	v = 0; expect_error(g, n, 5, &v, 1, 0, "unknown dtype");
	v = 77; expect_error(g, n, 5, &v, 1, 0, "unknown dtype");
	v = 5; expect_error(g, n, 6, &v, 1, 0, "rank");
	v = 0x80; expect_error(g, n, 7, &v, 1, 0, "unknown flags");
	expect_error(g, n, 8, huge, 8, 0, "overflows");
	expect_error(g, n, 12, &big, 4, 0, "disagrees");
	expect_error(g, n, 20, &big, 4, 0, "beyond rank");
	uint32_t ml = MS_META_MAX + 1;
	expect_error(g, n, 28, &ml, 4, 0, "exceeds the limit");
	uint64_t dl = 1ull << 62;
	expect_error(g, n, 32, &dl, 8, 0, "disagrees");
	expect_error(g, n, 40, &dl, 8, 0, "stored length");
	expect_error(g, n, 0, "MSTR", 4, 20, "truncated record header");
	expect_error(g, n, 0, "MSTR", 4, n - 30, "truncated payload");
	/* huge but self-consistent shape: refused before allocating */
	unsigned char hb[48];
	memcpy(hb, g, 48);
	uint32_t s4[4] = { 65535, 65535, 65535, 0 };
	memcpy(hb + 8, s4, 16);
	hb[6] = 3;
	uint64_t len = 65535ull * 65535 * 65535 * 4;
	memcpy(hb + 32, &len, 8);
	memcpy(hb + 40, &len, 8);
	expect_error(hb, 48, 0, "MSTR", 4, 0, "exceeds the limit");
	free(g);
	ms_rec_free(&a);
}

static void test_error_prefix(void)
{
	ms_error("bad magic");
	ms_error("%s: %s", "m.ms", ms_errmsg());   /* the message may be its own argument */
	CHECK(!strcmp(ms_errmsg(), "m.ms: bad magic"));
}

int main(void)
{
	RUN(test_error_prefix);
	RUN(test_roundtrip);
	RUN(test_copy_is_byte_exact);
	RUN(test_meta_edit);
	RUN(test_malformed);
	return test_summary("stream");
}

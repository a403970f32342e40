/* PNG read/write, resize, percentiles. */
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "core/ms.h"
#include "image/resize.h"
#include "io/png.h"
#include "test.h"

static char dir[] = "/tmp/ms-test-png-XXXXXX";

static void path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static void test_roundtrip_u8_u16(void)
{
	char p[256];
	ms_tensor t = { 0 }, r = { 0 };
	int64_t shape[3] = { 3, 5, 7 };
	double sp[2] = { 0.5, 0.25 }, got[2];
	int bits;
	path_in(p, sizeof p, "rgb.png");
	CHECK(ms_tensor_alloc(&t, MS_U8, 3, shape) == 0);
	for (int i = 0; i < 105; i++)
		((uint8_t *)t.data)[i] = (uint8_t)(i * 37);
	CHECK(ms_png_write(p, &t, sp) == 0);
	CHECK(ms_png_read(p, &r, &bits, got) == 0);
	CHECK(bits == 8 && r.dtype == MS_U8 && r.rank == 3);
	CHECK(r.shape[0] == 3 && r.shape[1] == 5 && r.shape[2] == 7);
	CHECK(r.data && !memcmp(r.data, t.data, 105));
	CHECK_NEAR(got[0], 0.5, 1e-9);
	CHECK_NEAR(got[1], 0.25, 1e-9);
	ms_tensor_free(&t);
	ms_tensor_free(&r);

	/* 16-bit grey, rank 2, no spacing */
	int64_t s2[2] = { 3, 4 };
	CHECK(ms_tensor_alloc(&t, MS_U16, 2, s2) == 0);
	for (int i = 0; i < 12; i++)
		((uint16_t *)t.data)[i] = (uint16_t)(i * 5461 + 1);
	path_in(p, sizeof p, "g16.png");
	CHECK(ms_png_write(p, &t, NULL) == 0);
	CHECK(ms_png_read(p, &r, &bits, got) == 0);
	CHECK(bits == 16 && r.dtype == MS_U16 && r.shape[0] == 1 && r.shape[1] == 3);
	CHECK(r.data && !memcmp(r.data, t.data, 24));
	CHECK(got[0] == 0 && got[1] == 0);
	ms_tensor_free(&t);
	ms_tensor_free(&r);
}

static void test_write_rejects(void)
{
	char p[256];
	ms_tensor t = { 0 };
	int64_t shape[3] = { 2, 2, 2 };
	path_in(p, sizeof p, "bad.png");
	CHECK(ms_tensor_alloc(&t, MS_U8, 3, shape) == 0);
	CHECK(ms_png_write(p, &t, NULL) < 0);          /* 2 channels */
	CHECK(strstr(ms_errmsg(), "1 or 3 channels") != NULL);
	t.dtype = MS_F32;
	CHECK(ms_png_write(p, &t, NULL) < 0);
	CHECK(access(p, F_OK) != 0);
	ms_tensor_free(&t);
}

static void put_chunk(FILE *f, const char *type, const unsigned char *d, uint32_t n)
{
	unsigned char b[4] = { n >> 24, n >> 16, n >> 8, n };
	fwrite(b, 1, 4, f);
	fwrite(type, 1, 4, f);
	if (n)
		fwrite(d, 1, n, f);
	uLong c = crc32(crc32(0, (const Bytef *)type, 4), d, n);
	unsigned char cb[4] = { c >> 24, c >> 16, c >> 8, c };
	fwrite(cb, 1, 4, f);
}

/* a PNG whose IHDR claims w x h, RGB 16-bit, followed by an empty IDAT */
static void fake_png(const char *p, uint32_t w, uint32_t h)
{
	FILE *f = fopen(p, "wb");
	unsigned char ihdr[13] = { w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h,
	                           16, 2, 0, 0, 0 };
	fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
	put_chunk(f, "IHDR", ihdr, 13);
	put_chunk(f, "IDAT", NULL, 0);
	fclose(f);
}

static void test_read_limits(void)
{
	char p[256];
	ms_tensor t = { 0 };
	path_in(p, sizeof p, "huge.png");
	fake_png(p, 60000, 60000);     /* 21.6 GB of pixels: refused before allocating */
	CHECK(ms_png_read(p, &t, NULL, NULL) < 0);
	CHECK(strstr(ms_errmsg(), "too large") != NULL);
	CHECK(t.data == NULL);
	fake_png(p, 70000, 1);         /* beyond the width limit */
	CHECK(ms_png_read(p, &t, NULL, NULL) < 0);
	CHECK(strstr(ms_errmsg(), "huge.png: ") != NULL);
	fake_png(p, 2, 2);             /* plausible, but no pixel data */
	CHECK(ms_png_read(p, &t, NULL, NULL) < 0);
	path_in(p, sizeof p, "none.png");
	CHECK(ms_png_read(p, &t, NULL, NULL) < 0);
	CHECK(strstr(ms_errmsg(), "cannot open") != NULL);
}

static void test_resize(void)
{
	ms_tensor a = { 0 }, b = { 0 }, c = { 0 };
	int64_t shape[3] = { 2, 4, 6 };
	CHECK(ms_tensor_alloc(&a, MS_F32, 3, shape) == 0);
	float *v = a.data;
	for (int i = 0; i < 48; i++)
		v[i] = (float)(i * i % 17);
	/* same size: identity */
	CHECK(ms_resize_bilinear(&a, 4, 6, &b) == 0);
	CHECK(!memcmp(a.data, b.data, 48 * sizeof(float)));
	ms_tensor_free(&b);
	/* halving: the mean of each 2x2 block */
	CHECK(ms_resize_bilinear(&a, 2, 3, &b) == 0);
	CHECK(b.shape[0] == 2 && b.shape[1] == 2 && b.shape[2] == 3);
	for (int k = 0; k < 2; k++)
		for (int y = 0; y < 2; y++)
			for (int x = 0; x < 3; x++) {
				const float *p = v + k * 24 + 2 * y * 6 + 2 * x;
				CHECK_NEAR(((float *)b.data)[k * 6 + y * 3 + x],
				           (p[0] + p[1] + p[6] + p[7]) / 4, 1e-5);
			}
	ms_tensor_free(&b);
	/* nearest, doubling: every pixel repeated 2x2; then halving gives it back */
	CHECK(ms_resize_nearest(&a, 8, 12, &b) == 0);
	CHECK(((float *)b.data)[0] == v[0] && ((float *)b.data)[13] == v[0]);
	CHECK(((float *)b.data)[96 + 3 * 12 + 5] == v[24 + 1 * 6 + 2]);
	CHECK(ms_resize_nearest(&b, 4, 6, &c) == 0);
	CHECK(!memcmp(c.data, a.data, 48 * sizeof(float)));
	ms_tensor_free(&b);
	ms_tensor_free(&c);
	/* u8 masks through nearest; bilinear refuses integers */
	int64_t ms[3] = { 1, 3, 3 };
	CHECK(ms_tensor_alloc(&b, MS_U8, 3, ms) == 0);
	((uint8_t *)b.data)[4] = 1;
	CHECK(ms_resize_nearest(&b, 9, 9, &c) == 0);
	int sum = 0;
	for (int i = 0; i < 81; i++)
		sum += ((uint8_t *)c.data)[i];
	CHECK(sum == 9 && ((uint8_t *)c.data)[4 * 9 + 4] == 1);
	ms_tensor d = { 0 };
	CHECK(ms_resize_bilinear(&b, 9, 9, &d) < 0 && d.data == NULL);
	ms_tensor_free(&b);
	ms_tensor_free(&c);
	ms_tensor_free(&a);
}

static void test_percentiles(void)
{
	float v[101], lo, hi;
	for (int i = 0; i < 101; i++)
		v[100 - i] = (float)i;             /* unsorted on purpose */
	CHECK(ms_percentiles(v, 101, 50, 99.5, &lo, &hi) == 0);
	CHECK_NEAR(lo, 50, 1e-6);
	CHECK_NEAR(hi, 99.5, 1e-6);
	CHECK(ms_percentiles(v, 101, 0, 100, &lo, &hi) == 0);
	CHECK(lo == 0 && hi == 100);
	/* numpy.percentile([1, 2, 3, 4], [10, 90]) = 1.3, 3.7; NaN ignored */
	float w[5] = { 4, NAN, 2, 1, 3 };
	CHECK(ms_percentiles(w, 5, 10, 90, &lo, &hi) == 0);
	CHECK_NEAR(lo, 1.3, 1e-6);
	CHECK_NEAR(hi, 3.7, 1e-6);
	ms_rescale(w, 5, lo, hi);
	CHECK(w[0] == 1 && w[1] == 0 && w[3] == 0);
	CHECK_NEAR(w[2], (2 - 1.3) / 2.4, 1e-6);
	float z[2] = { NAN, INFINITY };
	CHECK(ms_percentiles(z, 2, 1, 99, &lo, &hi) < 0);
	float c[3] = { 5, 5, 5 };
	ms_rescale(c, 3, 5, 5);                /* constant: all 0 */
	CHECK(c[0] == 0 && c[2] == 0);
}

/* ms_png_read_scaled: the same bytes as reading the whole image, converting, clipping
 * and resizing it (the way ms-import did before it read row by row), for grey and RGB, 8
 * and 16 bits, sizes down and up, with and without clip, images and masks */
static void test_read_scaled(void)
{
	static const int64_t dims[][4] = {      /* file h, w; output h, w (0: keep) */
		{ 37, 53, 8, 8 }, { 37, 53, 100, 71 }, { 1, 1, 3, 2 }, { 64, 48, 0, 0 },
		{ 50, 9, 50, 9 }, { 16, 300, 5, 600 },
	};
	static const double clips[][2] = { { 0, 100 }, { 0.5, 99.5 }, { 12.5, 60 } };
	char p[256];
	ms_rng rng;
	ms_rng_init(&rng, 18, 0);
	path_in(p, sizeof p, "scaled.png");
	for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
		for (int c = 1; c <= 3; c += 2)
			for (int bits = 8; bits <= 16; bits += 8)
				for (int mode = 0; mode < 5; mode++) {   /* 0-2: clips, 3: none, 4: mask */
					ms_tensor t = { 0 }, a = { 0 }, b = { 0 }, r = { 0 };
					int64_t shape[3] = { c, dims[d][0], dims[d][1] }, size[2], fg = -1;
					CHECK(ms_tensor_alloc(&t, bits == 16 ? MS_U16 : MS_U8, 3, shape) == 0);
					for (int64_t i = 0; i < ms_tensor_numel(&t); i++) {
						/* few distinct values, so that ranks tie; zeros for the masks */
						uint32_t v = ms_rng_below(&rng, 7) ? ms_rng_below(&rng, 5) * 41 : 0;
						if (bits == 16)
							((uint16_t *)t.data)[i] = (uint16_t)(v * 300 + ms_rng_below(&rng, 3));
						else
							((uint8_t *)t.data)[i] = (uint8_t)v;
					}
					CHECK(ms_png_write(p, &t, NULL) == 0);
					ms_png_opts o = { .h = dims[d][2], .w = dims[d][3], .mask = mode == 4,
					                  .clip = mode < 3, .plo = clips[mode % 3][0],
					                  .phi = clips[mode % 3][1] };
					CHECK(ms_png_read_scaled(p, &o, &a, size, NULL, &fg) == 0);
					CHECK(size[0] == dims[d][0] && size[1] == dims[d][1]);
					/* the reference: whole image, then each step on it */
					CHECK(ms_png_read(p, &r, NULL, NULL) == 0);
					int64_t n = ms_tensor_numel(&r);
					if (mode == 4) {
						int64_t s1[3] = { 1, dims[d][0], dims[d][1] }, nfg = 0;
						CHECK(ms_tensor_alloc(&b, MS_U8, 3, s1) == 0);
						for (int64_t i = 0; i < n; i++) {
							int64_t px = i % (n / c);
							unsigned v = bits == 16 ? ((uint16_t *)r.data)[i] : ((uint8_t *)r.data)[i];
							((uint8_t *)b.data)[px] |= v != 0;
						}
						for (int64_t i = 0; i < n / c; i++)
							nfg += ((uint8_t *)b.data)[i];
						CHECK(fg == nfg);
					} else {
						CHECK(ms_tensor_to_f32(&r, 1) == 0);
						if (mode < 3) {
							float lo, hi;
							CHECK(ms_percentiles(r.data, n, o.plo, o.phi, &lo, &hi) == 0);
							ms_rescale(r.data, n, lo, hi);
						}
						b = r;
						r = (ms_tensor){ 0 };
					}
					if (o.h) {
						ms_tensor e = { 0 };
						CHECK((mode == 4 ? ms_resize_nearest(&b, o.h, o.w, &e)
						                 : ms_resize_bilinear(&b, o.h, o.w, &e)) == 0);
						ms_tensor_free(&b);
						b = e;
					}
					CHECK(a.dtype == b.dtype && a.rank == 3 && a.shape[0] == b.shape[0] &&
					      a.shape[1] == b.shape[1] && a.shape[2] == b.shape[2]);
					CHECK(a.data && b.data &&
					      !memcmp(a.data, b.data, ms_tensor_numel(&a) * ms_dtype_size(a.dtype)));
					ms_tensor_free(&t), ms_tensor_free(&a), ms_tensor_free(&b), ms_tensor_free(&r);
				}
	/* the limit on decoded bytes: -2, nothing allocated */
	ms_tensor t = { 0 };
	int64_t size[2];
	ms_png_opts o = { .h = 4, .w = 4, .max_bytes = 37 * 53 - 1 };
	ms_tensor g = { 0 };
	int64_t s2[2] = { 37, 53 };
	CHECK(ms_tensor_alloc(&g, MS_U8, 2, s2) == 0);
	CHECK(ms_png_write(p, &g, NULL) == 0);
	CHECK(ms_png_read_scaled(p, &o, &t, size, NULL, NULL) == -2);
	CHECK(strstr(ms_errmsg(), "too large") != NULL && t.data == NULL);
	o.max_bytes = 37 * 53;
	CHECK(ms_png_read_scaled(p, &o, &t, size, NULL, NULL) == 0 && t.shape[2] == 4);
	ms_tensor_free(&t);
	ms_tensor_free(&g);
}

int main(void)
{
	test_mkdtemp(dir);
	RUN(test_roundtrip_u8_u16);
	RUN(test_write_rejects);
	RUN(test_read_limits);
	RUN(test_resize);
	RUN(test_percentiles);
	RUN(test_read_scaled);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return test_summary("png");
}

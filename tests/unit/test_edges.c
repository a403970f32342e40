/* Unit tests: image operations and edge maps on small hand-checked inputs. */
#include <math.h>
#include <string.h>

#include "core/ms.h"
#include "image/edges.h"
#include "image/image.h"
#include "test.h"

static ms_tensor plane(int c, int h, int w, float *data)
{
	ms_tensor t = { MS_F32, 3, { c, h, w }, data };
	return t;
}

static void test_mirror(void)
{
	/* reflect: ... 1 0 | 0 1 2 3 | 3 2 ... , period 2n */
	int want[] = { 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0 };
	for (int i = -2; i <= 8; i++)
		CHECK(ms_mirror(i, 4) == want[i + 2]);
	CHECK(ms_mirror(-7, 1) == 0 && ms_mirror(5, 1) == 0);
	CHECK(ms_mirror(-9, 4) == ms_mirror(-1, 4));   /* period 2n */
}

static void test_luma(void)
{
	float rgb[3 * 2] = { 1, 0, 0, 1, 0.5f, 0 };  /* R plane, G plane, B plane */
	float out[2];
	ms_tensor t = plane(3, 1, 2, rgb);
	CHECK(ms_image_luma(&t, out) == 0);
	CHECK_NEAR(out[0], 0.299 + 0.0 * 0.587 + 0.5 * 0.114, 1e-6);
	CHECK_NEAR(out[1], 0.0 + 0.587 + 0.0, 1e-6);
	uint8_t g[2] = { 255, 51 };
	ms_tensor u = { MS_U8, 3, { 1, 1, 2 }, g };
	CHECK(ms_image_luma(&u, out) == 0);
	CHECK_NEAR(out[0], 1, 1e-7);
	CHECK_NEAR(out[1], 0.2, 1e-7);
	ms_tensor bad = plane(2, 1, 1, rgb);
	CHECK(ms_image_luma(&bad, out) < 0 && strstr(ms_errmsg(), "2 channels"));
	ms_tensor empty = plane(1, 0, 3, rgb);
	CHECK(ms_image_luma(&empty, out) < 0);
}

static void test_gauss(void)
{
	float k[7];
	CHECK(ms_gauss_radius(0) == 0 && ms_gauss_radius(1) == 3 && ms_gauss_radius(1.01) == 4);
	ms_gauss_kernel(1, k);
	double sum = 0;
	for (int i = 0; i < 7; i++)
		sum += k[i];
	CHECK_NEAR(sum, 1, 1e-6);
	CHECK_NEAR(k[3] / k[4], exp(0.5), 1e-5);
	CHECK_NEAR(k[0], k[6], 0);
	/* impulse in the middle of 9x9: the outer product of the kernel */
	float in[81] = { 0 }, out[81];
	in[40] = 1;
	CHECK(ms_image_gauss(in, out, 9, 9, 1) == 0);
	CHECK_NEAR(out[40], k[3] * k[3], 1e-7);
	CHECK_NEAR(out[4 * 9 + 1], k[3] * k[0], 1e-7);
	CHECK_NEAR(out[1 * 9 + 2], k[0] * k[1], 1e-7);
	CHECK_NEAR(out[0], 0, 0);
	/* reflect border: an impulse at the corner folds back onto itself */
	memset(in, 0, sizeof in);
	in[0] = 1;
	CHECK(ms_image_gauss(in, out, 9, 9, 1) == 0);
	CHECK_NEAR(out[0], (k[3] + k[2]) * (k[3] + k[2]), 1e-7);
	/* a constant stays constant; sigma 0 copies */
	for (int i = 0; i < 81; i++)
		in[i] = 0.25f;
	CHECK(ms_image_gauss(in, out, 9, 9, 2.5) == 0);   /* radius 8 > image */
	for (int i = 0; i < 81; i++)
		CHECK_NEAR(out[i], 0.25, 1e-6);
	CHECK(ms_image_gauss(in, out, 9, 9, 0) == 0 && out[7] == 0.25f);
}

static void test_gradmag(void)
{
	/* ramp in x, slope 1: Sobel gx = 8 inside, 4 at the side columns (repeated border) */
	float in[5 * 6], out[5 * 6];
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 6; x++)
			in[y * 6 + x] = (float)x;
	ms_image_gradmag(in, 5, 6, 0, out);
	CHECK_NEAR(out[2 * 6 + 2], 8, 1e-6);
	CHECK_NEAR(out[0], 4, 1e-6);
	CHECK_NEAR(out[4 * 6 + 5], 4, 1e-6);
	ms_image_gradmag(in, 5, 6, 1, out);
	CHECK_NEAR(out[2 * 6 + 3], 32, 1e-6);     /* Scharr: 2 * (3 + 10 + 3) */
	ms_image_normmax(out, 30);
	CHECK_NEAR(out[2 * 6 + 3], 1, 0);
	CHECK_NEAR(out[0], 0.5, 1e-7);
	float flat[4] = { 0 };
	ms_image_normmax(flat, 4);
	CHECK(flat[0] == 0 && flat[3] == 0);
}

static void test_band(void)
{
	/* a 2x2 square of 1 in a 6x6 map: the band is the 4x4 ring around and on it */
	uint8_t m[36] = { 0 };
	m[2 * 6 + 2] = m[2 * 6 + 3] = m[3 * 6 + 2] = m[3 * 6 + 3] = 1;
	ms_tensor t = { MS_U8, 3, { 1, 6, 6 }, m };
	float b[36];
	CHECK(ms_mask_band(&t, b) == 0);
	int n = 0;
	for (int y = 0; y < 6; y++)
		for (int x = 0; x < 6; x++) {
			int in = y >= 1 && y <= 4 && x >= 1 && x <= 4;
			CHECK(b[y * 6 + x] == in);
			n += b[y * 6 + x] == 1;
		}
	CHECK(n == 16);
	/* a label touching the border: symmetric padding sees no transition outside */
	memset(m, 1, sizeof m);
	CHECK(ms_mask_band(&t, b) == 0);
	for (int i = 0; i < 36; i++)
		CHECK(b[i] == 0);
}

static ms_edges *canny_new(double lo, double hi, int l2)
{
	ms_edges_opt o = { MS_EDGES_CANNY, 0, 0, lo, hi, l2, 0 };
	return ms_edges_new(&o);
}

static void test_canny(void)
{
	/* vertical step 50 -> 200 between columns 4 and 5 of a 10x10 image */
	uint8_t img[100], out[100];
	for (int i = 0; i < 100; i++)
		img[i] = i % 10 < 5 ? 50 : 200;
	ms_edges *e = canny_new(150, 50, 0);    /* thresholds swapped as OpenCV does */
	CHECK(e && ms_canny_u8(e, img, 10, 10, out) == 0);
	for (int y = 0; y < 10; y++)
		for (int x = 0; x < 10; x++)     /* dx = 600 at columns 4 and 5: first wins */
			CHECK(out[y * 10 + x] == (x == 4));
	/* weak ridge joined to a strong one survives; an isolated weak one does not */
	memset(img, 0, sizeof img);
	for (int y = 1; y < 9; y++)
		img[y * 10 + 2] = y < 5 ? 40 : 200;  /* column 2: weak above, strong below */
	for (int y = 1; y < 9; y++)
		img[y * 10 + 7] = 40;                /* column 7: weak only */
	ms_edges_free(e);
	e = canny_new(100, 300, 0);
	CHECK(ms_canny_u8(e, img, 10, 10, out) == 0);
	int left = 0, right = 0;
	for (int y = 0; y < 10; y++)
		for (int x = 0; x < 10; x++) {
			left += x < 5 && out[y * 10 + x];
			right += x >= 5 && out[y * 10 + x];
		}
	CHECK(left > 8 && right == 0);
	/* flat image: nothing */
	memset(img, 77, sizeof img);
	CHECK(ms_canny_u8(e, img, 10, 10, out) == 0);
	int any = 0;
	for (int i = 0; i < 100; i++)
		any |= out[i];
	CHECK(!any);
	ms_edges_free(e);
}

static void test_compute(void)
{
	float im[3 * 16], out[16];
	for (int i = 0; i < 48; i++)
		im[i] = (i % 4) / 3.0f;
	ms_tensor img = plane(3, 4, 4, im);
	uint8_t m[16] = { 0 }, m5[20] = { 0 };
	m[5] = 1;
	ms_tensor mask = { MS_U8, 3, { 1, 4, 4 }, m }, mask5 = { MS_U8, 3, { 1, 4, 5 }, m5 };
	ms_edges_opt o = { MS_EDGES_DIFFBOOST, 1, 0, 50, 150, 0, 0 };
	ms_edges *e = ms_edges_new(&o);
	CHECK(ms_edges_compute(e, &img, &mask, out) == 0);
	float mx = 0;
	for (int i = 0; i < 16; i++) {
		CHECK(out[i] >= 0 && out[i] <= 1);
		mx = fmaxf(mx, out[i]);
	}
	CHECK(mx == 1 && out[5] == 1);   /* the band saturates at 1 */
	CHECK(ms_edges_compute(e, &img, &mask5, out) < 0 && strstr(ms_errmsg(), "does not match"));
	ms_edges_free(e);
	o.method = MS_EDGES_MASK;
	e = ms_edges_new(&o);
	CHECK(ms_edges_compute(e, &img, NULL, out) < 0);
	CHECK(ms_edges_compute(e, &img, &mask, out) == 0 && out[0] == 1 && out[15] == 0);
	ms_edges_free(e);
	o.sigma = -1;
	CHECK(ms_edges_new(&o) == NULL);
	o.sigma = 1;
	o.low = NAN;
	CHECK(ms_edges_new(&o) == NULL && strstr(ms_errmsg(), "thresholds"));
	o.low = 0;
	o.method = 9;
	CHECK(ms_edges_new(&o) == NULL);
	CHECK(ms_edges_method_parse("canny") == MS_EDGES_CANNY && ms_edges_method_parse("x") < 0);
	CHECK(!strcmp(ms_edges_method_name(MS_EDGES_DIFFBOOST), "diffboost"));
}

int main(void)
{
	RUN(test_mirror);
	RUN(test_luma);
	RUN(test_gauss);
	RUN(test_gradmag);
	RUN(test_band);
	RUN(test_canny);
	RUN(test_compute);
	return test_summary("edges");
}

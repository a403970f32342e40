/* Binary morphology (image/morph.h) against OpenCV (tests/ref/morph_ref.py through
 * /usr/bin/python3; skipped when it has no cv2), and properties that need no reference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/morph.h"
#include "test.h"

static int bits(FILE *p, uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = fgetc(p);
		if (c != '0' && c != '1')
			return -1;
		a[i] = (uint8_t)(c - '0');
	}
	return fgetc(p) == '\n' ? 0 : -1;
}

static void test_opencv(void)
{
	FILE *p = popen("/usr/bin/python3 tests/ref/morph_ref.py 2>/dev/null", "r");
	char line[2048];
	int H, W, K, cases = 0, ellipses = 0;
	if (!p) {
		printf("skip\n");
		return;
	}
	while (fgets(line, sizeof line, p)) {
		if (sscanf(line, "ellipse %d", &K) == 1) {
			int lo[64], hi[64];
			ms_ellipse_rows(K, lo, hi);
			char *s = strchr(line + 8, ' ');
			for (int i = 0; i < K && s; i++, s = strchr(s + 1, ' '))
				for (int j = 0; j < K; j++)
					CHECK(s[1 + j] - '0' == (j >= lo[i] && j < hi[i]));
			ellipses++;
			continue;
		}
		if (sscanf(line, "%d %d %d", &H, &W, &K) != 3)
			break;
		size_t n = (size_t)H * W;
		uint8_t *a = malloc(5 * n), *d = a + n, *e = d + n, *o = e + n, *x = o + n;
		CHECK(bits(p, a, n) == 0 && bits(p, d, n) == 0 && bits(p, e, n) == 0 &&
		      bits(p, o, n) == 0);
		CHECK(ms_dilate(a, H, W, K, x) == 0 && !memcmp(x, d, n));
		CHECK(ms_erode(a, H, W, K, x) == 0 && !memcmp(x, e, n));
		CHECK(ms_open(a, H, W, K, x) == 0 && !memcmp(x, o, n));
		free(a);
		cases++;
	}
	if (pclose(p) != 0 && !cases) {
		printf("skip\n");
		return;
	}
	CHECK(cases == 9 && ellipses == 8);
}

/* dilation contains the input, erosion is inside it; with odd k (a symmetric element;
 * OpenCV's even ellipses are not, so its opening is neither) opening is inside the input
 * and idempotent; a single pixel dilates to the reflected ellipse */
static void test_properties(void)
{
	enum { H = 23, W = 31 };
	uint8_t a[H * W], d[H * W], e[H * W], o[H * W], o2[H * W];
	unsigned s = 7;
	for (int i = 0; i < H * W; i++) {
		s = s * 1103515245u + 12345u;
		a[i] = (s >> 16) % 3 == 0;
	}
	for (int k = 1; k <= 9; k++) {
		CHECK(ms_dilate(a, H, W, k, d) == 0 && ms_erode(a, H, W, k, e) == 0 &&
		      ms_open(a, H, W, k, o) == 0 && ms_open(o, H, W, k, o2) == 0);
		int bad = 0;
		for (int i = 0; i < H * W; i++)
			bad += d[i] < a[i] || e[i] > a[i] || (k % 2 && (o[i] > a[i] || o2[i] != o[i]));
		CHECK(bad == 0);
	}
	memset(a, 0, sizeof a);
	a[11 * W + 15] = 1;
	int lo[7], hi[7];
	ms_ellipse_rows(7, lo, hi);
	CHECK(ms_dilate(a, H, W, 7, d) == 0);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int i = 11 - y + 3, j = 15 - x + 3;      /* the reflected element */
			int in = i >= 0 && i < 7 && j >= lo[i] && j < hi[i];
			CHECK(d[y * W + x] == in);
		}
	CHECK(ms_morph_scaled(20, 256, 256) == 20 && ms_morph_scaled(20, 64, 64) == 5 &&
	      ms_morph_scaled(16, 128, 96) == 8 && ms_morph_scaled(16, 8, 8) == 1);
}

int main(void)
{
	RUN(test_opencv);
	RUN(test_properties);
	return test_summary("test_morph");
}

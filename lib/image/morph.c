/* Binary morphology with elliptic structuring elements (morph.h). Each output pixel
 * looks at one run of columns per kernel row; runs are counted with row prefix sums,
 * so the cost is O(H W k), not O(H W k^2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "image/morph.h"

void ms_ellipse_rows(int k, int *lo, int *hi)
{
	int r = k / 2, c = k / 2;
	double inv = r ? 1.0 / ((double)r * r) : 0;
	for (int i = 0; i < k; i++) {
		int dy = i - r;
		lo[i] = hi[i] = 0;
		if (abs(dy) <= r) {
			int dx = (int)lrint(c * sqrt(((double)r * r - (double)dy * dy) * inv));
			lo[i] = c - dx > 0 ? c - dx : 0;
			hi[i] = c + dx + 1 < k ? c + dx + 1 : k;
		}
	}
}

/* dilate: any set pixel under the ellipse; erode: every pixel under it (inside the image) */
static int morph(const uint8_t *in, int H, int W, int k, int erode, uint8_t *out)
{
	int *lo = ms_reallocarray(NULL, 2 * (size_t)k, sizeof *lo), *hi = lo + k;
	int *pre = ms_reallocarray(NULL, (size_t)H * (W + 1), sizeof *pre);
	if (!lo || !pre) {
		free(lo);
		free(pre);
		return -1;
	}
	ms_ellipse_rows(k, lo, hi);
	for (int y = 0; y < H; y++) {
		int *p = pre + (size_t)y * (W + 1);
		p[0] = 0;
		for (int x = 0; x < W; x++)
			p[x + 1] = p[x] + (in[(size_t)y * W + x] != 0);
	}
	int a = k / 2;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int v = erode;
			for (int i = 0; i < k && v == erode; i++) {
				int yy = y + i - a;
				if (yy < 0 || yy >= H || lo[i] >= hi[i])
					continue;
				int x0 = x + lo[i] - a, x1 = x + hi[i] - a;
				x0 = x0 < 0 ? 0 : x0;
				x1 = x1 > W ? W : x1;
				if (x0 >= x1)
					continue;
				const int *p = pre + (size_t)yy * (W + 1);
				int n = p[x1] - p[x0];
				v = erode ? n == x1 - x0 : n > 0;
			}
			out[(size_t)y * W + x] = (uint8_t)v;
		}
	free(lo);
	free(pre);
	return 0;
}

int ms_dilate(const uint8_t *in, int H, int W, int k, uint8_t *out)
{
	return morph(in, H, W, k, 0, out);
}

int ms_erode(const uint8_t *in, int H, int W, int k, uint8_t *out)
{
	return morph(in, H, W, k, 1, out);
}

int ms_open(const uint8_t *in, int H, int W, int k, uint8_t *out)
{
	size_t n = (size_t)H * W;
	uint8_t *t = ms_malloc(n ? n : 1);
	int ret = !t || ms_erode(in, H, W, k, t) < 0 || ms_dilate(t, H, W, k, out) < 0 ? -1 : 0;
	free(t);
	return ret;
}

int ms_morph_scaled(int px, int H, int W)
{
	int side = H > W ? H : W, k = (int)lrint(px * side / 256.0);
	return k < 1 ? 1 : k;
}

/* Nearest 2x upsampling and channel concatenation. */
#include <string.h>

#include "nn.h"

void ms_upsample2_forward(int N, int C, int H, int W, const float *x, size_t xs, float *y,
                          size_t ys)
{
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++) {
			const float *xc = x + n * xs + (size_t)c * H * W;
			float *yc = y + n * ys + (size_t)c * 4 * H * W;
			for (int i = 0; i < H; i++) {
				float *r0 = yc + (size_t)2 * i * 2 * W, *r1 = r0 + 2 * W;
				for (int j = 0; j < W; j++)
					r0[2 * j] = r0[2 * j + 1] = xc[(size_t)i * W + j];
				memcpy(r1, r0, 2 * W * sizeof *r1);
			}
		}
}

void ms_upsample2_backward(int N, int C, int H, int W, const float *dy, size_t dys,
                           float *dx, size_t dxs, int acc)
{
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++) {
			const float *dc = dy + n * dys + (size_t)c * 4 * H * W;
			float *xc = dx + n * dxs + (size_t)c * H * W;
			for (int i = 0; i < H; i++) {
				const float *r0 = dc + (size_t)2 * i * 2 * W, *r1 = r0 + 2 * W;
				for (int j = 0; j < W; j++) {
					float d = r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
					float *o = xc + (size_t)i * W + j;
					*o = acc ? *o + d : d;
				}
			}
		}
}

void ms_concat_forward(int N, int HW, const float *a, int ca, const float *b, int cb,
                       float *y)
{
	size_t na = (size_t)ca * HW, nb = (size_t)cb * HW;
	for (int n = 0; n < N; n++) {
		memcpy(y + n * (na + nb), a + n * na, na * sizeof *y);
		memcpy(y + n * (na + nb) + na, b + n * nb, nb * sizeof *y);
	}
}

static void add_or_copy(float *d, const float *s, size_t n, int acc)
{
	if (!acc) {
		memcpy(d, s, n * sizeof *d);
		return;
	}
	for (size_t i = 0; i < n; i++)
		d[i] += s[i];
}

void ms_concat_backward(int N, int HW, const float *dy, float *da, int ca, float *db, int cb,
                        int acc)
{
	size_t na = (size_t)ca * HW, nb = (size_t)cb * HW;
	for (int n = 0; n < N; n++) {
		add_or_copy(da + n * na, dy + n * (na + nb), na, acc);
		add_or_copy(db + n * nb, dy + n * (na + nb) + na, nb, acc);
	}
}

/* Internal to conv2d.c: Winograd F(2x2,3x3) and F(4x4,3x3) for its 3x3 stride 1
 * convolutions (Lavin and Gray, "Fast algorithms for convolutional neural networks",
 * CVPR 2016). The output block rows mi..mi+m-1, columns mj..mj+m-1 (m = 2 or 4) comes
 * from the (m+2)x(m+2) input tile d at (mi-1, mj-1) (zero outside) as A^T [sum over ci of
 * U .* V] A, U = G g G^T of the 3x3 kernel g, V = B^T d B; the sums over ci are (m+2)^2
 * GEMMs, one per point xi of the transformed tile, M[xi] [cout, T] = U[xi] [cout, cin]
 * V[xi] [cin, T] over the T tiles of a work item: a run of tile rows of the batch, across
 * images where they are small. dW is the dual, with the same m: G^T [sum over the tiles
 * of (A e A^T) .* V] G, e the m x m blocks of dy. m = 2's transforms only add, subtract and
 * halve, so its results differ from the direct sums by rounding alone (1e-6 for outputs
 * of about 1); m = 4's multiply by up to 8 and divide by 24, and round more (within 4e-5
 * for outputs of about 1, tests/unit/test_nn.c). An output of the forward pass sums its
 * terms in an order fixed by its position, dW in the order of the work items, whatever
 * the threads. */
#ifndef MS_NN_WINOGRAD_H
#define MS_NN_WINOGRAD_H

#include <stddef.h>

#include "core/threads.h"
#include "nn.h"

/* one pass of a convolution, as conv2d.c's parts on the thread pool see it */
typedef struct {
	const ms_conv2d *c;
	int N, H, W, acc;
	const float *x, *dy, *cbias;
	size_t xs, ys, dys, dxs;
	float *y, *dx, *ws;
	atomic_long *next;            /* the forward pass's next item (ms_take) */
	int win, shift, rows;         /* the forward pass's plan: Winograd (win: the output
	                               * tile's side, 2 or 4), shifted (shift 1, or 2 with
	                               * bfloat16 pairs), or im2col (neither);
	                               * rows of outputs (Winograd: of tiles) an item; the
	                               * backward pass's: win, dW Winograd's way */
} ms_conv_job;

/* bf16 products: the forward pass writes its operands as bfloat16 pairs for
 * ms_gemm_pairs, once (on 1, the default: Winograd's transform V and U, the shifted
 * way's P and kernel), or in single precision for ms_gemm to round as it packs them (0),
 * the same bytes; -1 asks; returns the setting before (tests, benchmarks) */
int ms_conv2d_pairs(int on);
/* whether c on images W wide goes Winograd's way (and ms_conv2d_winograd allows it) */
int ms_wino(const ms_conv2d *c, int W);
/* the output tiles of its forward pass and dW there: 4 x 4 (F(4x4,3x3)) from 64 columns
 * on with single-precision products; 2 x 2 on narrower images, with bf16 products or
 * where ms_wino_f4(0) asked for it; 0: not Winograd's way. bf16 products stay 2 x 2
 * because the larger tile's transforms magnify their rounding: relative RMS error of a
 * 3x3 layer's output 2.5e-2 in F(4x4), against 3.9e-3 in F(2x2) and 2.3e-3 direct
 * (fp32 F(4x4): 2e-6; tests/bench/wino_error.sh: 32 to 128 channels, 64 and 128 px) */
int ms_wino_m(const ms_conv2d *c, int W);
/* F(4x4,3x3) allowed (1, the default), not (0), or also with bf16 products (2: benches
 * of its error); -1 asks; returns the setting before */
int ms_wino_f4(int on);
/* tile rows (of m output rows) per work item; a work item's floats of workspace (either
 * tile) */
int ms_wino_rows(const ms_conv2d *c, int W, int m);
size_t ms_wino_floats(const ms_conv2d *c, int H, int W);
/* u [(m+2)^2, cout, cin]: the kernel transformed, G g G^T; m 2 with bf16 products
 * (ms_conv2d_pairs), then U again as bfloat16 pairs of channels, [16, cout, cin/2 rounded
 * up] (ms_gemm_pairs) */
void ms_wino_kernel(const ms_conv2d *c, int m, float *u);
/* y (+)= conv(x) + bias of the global tile rows [g0,g1) (of j->win output rows; row i
 * of image n: n th + i), the transformed kernel at j->ws, p a work item's workspace */
void ms_wino_forward(const ms_conv_job *j, long g0, long g1, float *p);
/* dw [(c1-c0)*9, cout] = dW^T of input channels [c0,c1), every tile of the batch, with
 * the forward pass's tile (j->win, as ms_wino_m) */
void ms_wino_dw(const ms_conv_job *j, int c0, int c1, float *dw, float *p);

#endif

/* Neural-network core: eager layers with forward and backward, losses, Adam, U-Net,
 * checkpoints. Tensors are float32 [N,C,H,W], contiguous within an image; functions
 * that take a pointer with a stride (xs, ys: floats from one image to the next) accept
 * a channel slice of a larger tensor, which is how U-Net skips avoid copies.
 * Backward functions accumulate parameter gradients; "acc" says whether the input
 * gradient is added to (1) or overwritten (0). */
#ifndef MS_NN_H
#define MS_NN_H

#include "core/opt.h"
#include "core/tensor.h"
#include "io/stream.h"

/* ---- parameters: name and shape as in a PyTorch state dict, with gradient and
 * optimiser state, allocated once */
typedef struct {
	char name[96];
	int rank;
	int64_t shape[MS_MAX_RANK];
	size_t n;
	float *w, *g, *m, *v;
	float *ema;                   /* NULL unless ms_params_ema_enable */
	float *mem, *ema_mem;         /* allocations (w and ema may be swapped) */
} ms_param;

typedef struct {
	ms_param **p;
	int n, cap;
	uint64_t seed;                /* initialisation: ms_rng(seed, hash of the name) */
} ms_params;

/* adds "prefix.suffix" with zeroed data; NULL + ms_error on failure */
ms_param *ms_param_add(ms_params *ps, const char *prefix, const char *suffix, int rank,
                       const int64_t *shape);
void ms_param_uniform(const ms_params *ps, ms_param *p, float bound);
void ms_param_fill(ms_param *p, float v);
ms_param *ms_params_find(const ms_params *ps, const char *name);
size_t ms_params_count(const ms_params *ps);     /* number of scalars */
void ms_params_zero_grad(ms_params *ps);
void ms_params_free(ms_params *ps);

/* ---- conv2d: k 1 or 3, stride 1 or 2, padding k/2. Weight [cout,cin,k,k], bias [cout].
 * Input [N,cin,H,W], output [N,cout,Ho,Wo], Ho = (H + 2*pad - k) / stride + 1 */
typedef struct {
	int cin, cout, k, stride, pad;
	ms_param *w, *b;
} ms_conv2d;
int ms_conv2d_init(ms_conv2d *c, ms_params *ps, const char *name, int cin, int cout, int k,
                   int stride);
int ms_conv2d_out(const ms_conv2d *c, int size);
size_t ms_conv2d_ws(const ms_conv2d *c, int H, int W);   /* workspace floats */
/* im2col runs on tiles of output rows of about this many floats (cache blocking); sets
 * it when floats > 0 (before planning: the workspace depends on it), returns the old */
long ms_conv2d_tile(long floats);
/* Winograd's way for the 3x3 stride 1 convolutions where it pays (on = 1, the default),
 * never (0) or always (2), for tests and benchmarks; set before planning (the workspace
 * depends on it); returns the old; -1 only asks */
int ms_conv2d_winograd(int on);
/* y (+)= conv(x) + bias (+ cbias[n*cout + o] when cbias is not NULL) */
void ms_conv2d_forward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                       float *y, size_t ys, int acc, const float *cbias, float *ws);
/* dx may be NULL (no input gradient wanted) */
void ms_conv2d_backward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws);

/* ---- linear: weight [out,in], bias [out]; x [N,in], y [N,out] */
typedef struct {
	int in, out;
	ms_param *w, *b;
} ms_linear;
int ms_linear_init(ms_linear *l, ms_params *ps, const char *name, int in, int out);
void ms_linear_forward(const ms_linear *l, int N, const float *x, float *y, int acc);
void ms_linear_backward(const ms_linear *l, int N, const float *x, const float *dy,
                        float *dx, int acc);

/* ---- GroupNorm(groups, c), eps 1e-5, affine. stats: 2*N*groups floats set by forward
 * and read by backward (ms_groupnorm_plan allocates them) */
typedef struct {
	int c, groups, cap;
	float eps;
	ms_param *w, *b;
	float *stats;                 /* mean, rstd per (n, group) */
} ms_groupnorm;
int ms_groupnorm_init(ms_groupnorm *g, ms_params *ps, const char *name, int c, int groups);
int ms_groupnorm_plan(ms_groupnorm *g, int N);
void ms_groupnorm_free(ms_groupnorm *g);
/* y = GN(x) and act = silu(GN(x)) (stride ys), either may be NULL */
void ms_groupnorm_forward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                          float *y, size_t ys, float *act);
/* dx (+)= the gradient at x from dy, that of y; with silu, from dact, that of act, which
 * it overwrites with that of y: GN(x) recomputed from x and the forward pass's stats, so
 * that y need not be kept (the same bytes as ms_silu_backward on y, then
 * ms_groupnorm_backward); the parameters' gradients accumulate */
void ms_groupnorm_backward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                           const float *dy, size_t dys, float *dx, size_t dxs, int acc);
void ms_groupnorm_silu_backward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                                float *dact, size_t das, float *dx, size_t dxs, int acc);

/* ---- elementwise activations on n floats; backward: dx (+)= dy * f'(.)
 * (silu and relu take the input x, sigmoid its output y); dx may equal dy */
void ms_silu_forward(const float *x, float *y, size_t n);
void ms_silu_backward(const float *x, const float *dy, float *dx, size_t n, int acc);
void ms_relu_forward(const float *x, float *y, size_t n);
void ms_relu_backward(const float *x, const float *dy, float *dx, size_t n, int acc);
void ms_sigmoid_forward(const float *x, float *y, size_t n);
void ms_sigmoid_backward(const float *y, const float *dy, float *dx, size_t n, int acc);

/* ---- nearest 2x upsampling [N,C,H,W] -> [N,C,2H,2W] and channel concatenation */
void ms_upsample2_forward(int N, int C, int H, int W, const float *x, size_t xs, float *y,
                          size_t ys);
void ms_upsample2_backward(int N, int C, int H, int W, const float *dy, size_t dys,
                           float *dx, size_t dxs, int acc);
/* conv(upsample2(x)) for a 3x3 stride-1 conv c, x [N,cin,h,w], y [N,cout,2h,2w], computed
 * at low resolution (4 phase 2x2 convolutions, 4/9 of the work); y is overwritten */
size_t ms_upconv_ws(const ms_conv2d *c, int h, int w);
void ms_upconv_forward(const ms_conv2d *c, int N, int h, int w, const float *x, size_t xs,
                       float *y, size_t ys, float *ws);
void ms_upconv_backward(const ms_conv2d *c, int N, int h, int w, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws);
/* y [N,ca+cb,HW] = cat(a [N,ca,HW], b [N,cb,HW]) (copies; the U-Net avoids it) */
void ms_concat_forward(int N, int HW, const float *a, int ca, const float *b, int cb,
                       float *y);
void ms_concat_backward(int N, int HW, const float *dy, float *da, int ca, float *db, int cb,
                        int acc);

/* ---- sinusoidal time embedding as ref_unet.py: [cos(t f_i), sin(t f_i)],
 * f_i = exp(-ln(10000) i / (dim/2)); t [N], out [N,dim] */
void ms_timestep_embedding(const float *t, int N, int dim, float *out);

/* ---- single-head self-attention block as ref_unet.py AttnBlock:
 * y = x + proj(attention(qkv(GN(x)))) */
typedef struct {
	int c, N, L;
	ms_groupnorm norm;
	ms_conv2d qkv, proj;
	float *n, *qkvb, *p, *h;      /* planned: [N,c,L] [N,3c,L] [N,L,L] [N,c,L] */
	float *dn, *dqkv, *dp, *dh;   /* planned for training */
} ms_attn;
int ms_attn_init(ms_attn *a, ms_params *ps, const char *name, int c, int groups);
int ms_attn_plan(ms_attn *a, int N, int L, int train);
void ms_attn_free(ms_attn *a);
void ms_attn_forward(ms_attn *a, const float *x, size_t xs, float *y, size_t ys);
void ms_attn_backward(ms_attn *a, const float *x, size_t xs, const float *dy, size_t dys,
                      float *dx, size_t dxs, int acc);

/* ---- losses over logits/predictions; return the loss, write d loss / d input scaled
 * by w into d (added when acc) */
double ms_loss_bce(const float *logit, const float *y, size_t n, float *d, float w, int acc);
/* soft Dice on sigmoid(logit), per image 1 - (2 sum py + 1)/(sum p + sum y + 1), mean */
double ms_loss_dice(const float *logit, const float *y, int N, size_t per, float *d, float w,
                    int acc);
double ms_loss_mse(const float *pred, const float *y, size_t n, float *d, float w, int acc);

/* ---- optimisers */
typedef struct {
	double lr, beta1, beta2, eps, wd;
	int decoupled;                /* 1: AdamW */
	long t;                       /* steps taken */
} ms_adam;
void ms_adam_init(ms_adam *a, double lr, double wd, int decoupled);
void ms_adam_step(ms_adam *a, ms_params *ps);
/* scales gradients so their global L2 norm is at most max_norm; returns the norm before */
double ms_params_clip(ms_params *ps, double max_norm);
enum { MS_LR_CONSTANT, MS_LR_COSINE, MS_LR_POLY };
/* lr at step (0-based) of total, linear warmup over the first warmup steps;
 * cosine decays to 0, poly is (1 - step/total)^0.9 */
double ms_lr_at(int kind, double base, long step, long total, long warmup);
/* the schedules' names by kind, NULL-terminated (a tool's option table takes them) */
extern const char *const ms_lr_names[];
int ms_lr_parse(const char *s);          /* "constant" "cosine" "poly", -1 if unknown */
int ms_params_ema_enable(ms_params *ps); /* ema = w */
void ms_params_ema_update(ms_params *ps, double decay);
void ms_params_ema_swap(ms_params *ps);  /* exchange w and ema */

/* ---- U-Net (ref_unet.py's UNet). Defaults: the segmentor, in 1, out 1, width 32,
 * mult 1,2,4, nres 1, no attention, no time embedding, GroupNorm(8) */
#define MS_UNET_MAXLEVEL 6
typedef struct {
	int in_ch, out_ch, width, nmult, mult[MS_UNET_MAXLEVEL], nres, attn, temb, groups;
} ms_unet_cfg;
typedef struct ms_unet ms_unet;

void ms_unet_cfg_default(ms_unet_cfg *c);
int ms_unet_cfg_check(const ms_unet_cfg *c);
/* "arch=unet in=1 out=1 width=32 mult=1,2,4 nres=1 attn=0 temb=0 groups=8" as metadata */
int ms_unet_cfg_to_rec(const ms_unet_cfg *c, ms_rec *r);
int ms_unet_cfg_from_rec(ms_unet_cfg *c, const ms_rec *r);
ms_unet *ms_unet_new(const ms_unet_cfg *cfg, uint64_t seed);
void ms_unet_free(ms_unet *u);
const ms_unet_cfg *ms_unet_cfg_of(const ms_unet *u);
ms_params *ms_unet_params(ms_unet *u);
int ms_unet_tdim(const ms_unet *u);      /* time embedding width (4*width), 0 if none */
/* allocate activations (and gradients when train) for batch N of H x W; H and W must be
 * multiples of 2^(nmult-1). train: 0 inference, 1 training, MS_UNET_TRAIN_DX training
 * with the gradient of the input too (ms_unet_dx). Calling it again re-plans. */
enum { MS_UNET_TRAIN_DX = 2 };
int ms_unet_plan(ms_unet *u, int N, int H, int W, int train);
size_t ms_unet_planned_bytes(const ms_unet *u);
/* x [N,in,H,W]; t [N] (temb only, else NULL); cond [N,tdim] added to the time
 * embedding (NULL for none). Returns the output [N,out,H,W], owned by the net. */
float *ms_unet_forward(ms_unet *u, const float *x, const float *t, const float *cond);
/* after a forward of a train plan: accumulate parameter gradients from dout */
void ms_unet_backward(ms_unet *u, const float *dout);
/* after ms_unet_backward with temb: d loss / d cond [N,tdim] (for a learned text
 * embedding added through cond), owned by the net; NULL without time embedding */
const float *ms_unet_dcond(const ms_unet *u);
/* after ms_unet_backward of a MS_UNET_TRAIN_DX plan: d loss / d x [N,in,H,W], owned by
 * the net; NULL for other plans */
const float *ms_unet_dx(const ms_unet *u);

/* ---- checkpoints (stream container): record "model" (arch metadata, step=, extra),
 * one f32 record per parameter, then adam.m.NAME, adam.v.NAME when opt is given,
 * ema.NAME when EMA is on. Written atomically. extra: "key=value\n" lines or NULL. */
int ms_unet_save(ms_unet *u, const char *path, const ms_adam *opt, long step,
                 const char *extra);
/* builds the net from the checkpoint; opt (may be NULL) receives optimiser state,
 * model (may be NULL) the "model" record for its metadata */
ms_unet *ms_unet_load(const char *path, ms_adam *opt, ms_rec *model);
/* --resume: the options a checkpoint's "model" record m sets unless given again;
 * keys[i][0] an option's long name, keys[i][1] its metadata key. A value there that the
 * option refuses is an error ("checkpoint has an invalid KEY=V: ..."). */
int ms_ckpt_opts(ms_opt *opts, const ms_rec *m, const char *const (*keys)[2], int n);
/* the pair of every training tool's keys: --precision (MS_OPT_PRECISION), which
 * ms_ckpt_save records, so that a resumed run's products stay those of its first run */
#define MS_CKPT_PRECISION { "precision", "precision" }
/* any model's checkpoint: the record "model" with head's metadata, then step=, adam_t=
 * (when opt), precision= (ms_gemm_precision: fp32 or bf16) and the "key=value\n" lines
 * of tail (may be NULL); the parameter records of ps, with Adam's state when opt.
 * Written atomically. head's name and data are set here (the caller still frees it). */
int ms_ckpt_save(const char *path, ms_rec *head, const char *tail, const ms_params *ps,
                 const ms_adam *opt, long step);
/* reading one: opens path and reads its "model" record into model (the caller builds
 * its model from that metadata), NULL with the reason; then ms_ckpt_params reads the
 * parameters into ps, Adam's state and step into opt (may be NULL) when present; the
 * caller closes f and frees model */
FILE *ms_ckpt_open(const char *path, ms_rec *model);
int ms_ckpt_params(FILE *f, const char *path, const ms_rec *model, ms_params *ps,
                   ms_adam *opt);
/* a model of any kind from its checkpoint: k->build makes it from the "model" record
 * (NULL with the reason, which gets the path in front), k->params gives the parameters
 * to read; Adam's state into opt (may be NULL), the "model" record into model (may be
 * NULL). NULL with the reason. */
typedef struct {
	void *(*build)(const ms_rec *model);
	ms_params *(*params)(void *m);
	void (*destroy)(void *m);
} ms_ckpt_kind;
void *ms_ckpt_load(const char *path, ms_adam *opt, ms_rec *model, const ms_ckpt_kind *k);
/* low level: write/read parameter records of ps */
int ms_params_write(FILE *f, const ms_params *ps, int with_opt);
int ms_params_read(FILE *f, const char *fname, ms_params *ps, int *have_opt);

#endif

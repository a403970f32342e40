/* The conditional generator of ms-sample (methods.md 1, 1.1, 1.2): a U-Net with time
 * embedding predicts the noise eps of x_t (or v, with zero_snr); its input is x_t
 * concatenated with condition channels (records such as edges or mask, plus a validity
 * channel when conditions may be missing), and a prompt embedding (text.h) is added to the
 * time embedding. Training: DDPM loss; sampling: DDIM with classifier-free guidance.
 * Images live in [-1,1]. */
#ifndef MS_GENERATOR_H
#define MS_GENERATOR_H

#include "core/rng.h"
#include "core/tensor.h"
#include "diffusion/diffusion.h"
#include "diffusion/text.h"
#include "io/sample.h"
#include "io/stream.h"
#include "nn/nn.h"

#define MS_GEN_MAXCOND 8
#define MS_GEN_CONDNAME 64

typedef struct {
	ms_unet_cfg unet;             /* in_ch, out_ch and temb are set by ms_gen_new */
	int img_ch;                   /* 1 or 3 */
	int ncond;                    /* condition records */
	char cond[MS_GEN_MAXCOND][MS_GEN_CONDNAME];
	int optional;                 /* conditions may be missing: one validity channel */
	int joint;                    /* a mask channel generated with the image (Saragih
	                               * et al.): metadata joint=1, absent: 0 */
	int sched, T;
	int zero_snr;                 /* zero terminal SNR schedule and v-prediction (Lin et
	                               * al. 2024); metadata zero_snr=1 prediction=v, absent: 0 */
	int buckets, text_dim;
	int H, W;                     /* training size */
} ms_gen_cfg;

typedef struct ms_gen ms_gen;

/* width 32, mult 1,2,4, no attention, grey, cond "edges", linear T = 1000,
 * 1024 buckets of 64 */
void ms_gen_cfg_default(ms_gen_cfg *c);
/* "edges,mask": condition record names; "" or "none": no conditions */
int ms_gen_cfg_cond(ms_gen_cfg *c, const char *list);
int ms_gen_cond_channels(const ms_gen_cfg *c);   /* ncond + optional */
/* the generated channels: img_ch, plus the mask channel of a joint model (the last) */
int ms_gen_channels(const ms_gen_cfg *c);
/* model metadata (kind=sample ...) to a record and back */
int ms_gen_cfg_to_rec(const ms_gen_cfg *c, ms_rec *r);
int ms_gen_cfg_from_rec(ms_gen_cfg *c, const ms_rec *r);

/* a new generator: its U-Net (and prompt encoder) initialised from seed */
ms_gen *ms_gen_new(const ms_gen_cfg *c, uint64_t seed);
void ms_gen_free(ms_gen *g);
const ms_gen_cfg *ms_gen_cfg_of(const ms_gen *g);
/* the trained parameters: the U-Net's table, which holds the prompt encoder's ("text") too */
ms_params *ms_gen_params(ms_gen *g);
/* checkpoint: record "model" (the metadata of extra (may be NULL), then
 * ms_gen_cfg_to_rec's, step=, adam_t=), then U-Net and text parameters, Adam state
 * (when opt), EMA; written atomically */
int ms_gen_save(ms_gen *g, const char *path, const ms_adam *opt, long step,
                const ms_rec *extra);
/* opt (may be NULL) receives Adam's state, model (may be NULL) the "model" record */
ms_gen *ms_gen_load(const char *path, ms_adam *opt, ms_rec *model);

/* condition channels [ncond + optional, H, W] of one sample from its records rec[i]
 * (NULL when missing; [1,H,W] or [H,W], u8 as nonzero = 1, else f32 values); missing
 * records are zeros and clear the validity channel. -1 on a shape mismatch or a
 * missing record of a model without the validity channel. */
int ms_gen_cond_fill(const ms_gen_cfg *c, const ms_tensor *const *rec, int H, int W,
                     float *out);

/* one training step on a batch of N images x0 [N,G,H,W] in [-1,1] with conditions
 * cond [N,K,H,W] and one prompt for the whole batch (see generator.c); plans as needed.
 * Draws t, eps and the prompt dropout from r. The target is eps, or v with zero_snr.
 * Returns the loss. */
typedef struct {
	double p_uncond;              /* probability of training on the empty prompt */
	double clip;                  /* gradient norm limit, 0 = none */
	double ema;                   /* EMA decay, 0 = no EMA */
} ms_gen_train_opt;
double ms_gen_train_step(ms_gen *g, ms_adam *opt, const ms_gen_train_opt *o, int N, int H,
                         int W, const float *x0, const float *cond, const char *prompt,
                         ms_rng *r);
/* the step in its three stages, for a gradient in parts (models/train.h's ms_grads):
 * the draws for the whole batch (t, eps, the noisy input, the target, the prompt
 * dropout; -1 on OOM); the gradient of images [b0, b1) of it, weighted by w, into the
 * parameters' g (plans for b1 - b0 images; returns the part's loss times w, -1 on
 * OOM); clipping, the Adam step and the EMA of the batch's gradient (-1 on OOM) */
int ms_gen_train_draw(ms_gen *g, const ms_gen_train_opt *o, int N, int H, int W,
                      const float *x0, const float *cond, const char *prompt, ms_rng *r);
double ms_gen_train_part(ms_gen *g, int b0, int b1, double w);
int ms_gen_train_update(ms_gen *g, ms_adam *opt, const ms_gen_train_opt *o);

/* n images [n,G,H,W] in [0,1] (G = ms_gen_channels: a joint model's last channel is
 * its mask) for one condition [K,H,W]: DDIM over steps of the schedule with eta
 * (ms_reverse), or DPM-Solver++(2M) on the same timesteps (ms_dpm2m, with sampler);
 * classifier-free guidance eps = eu + w (ec - eu) (on v with zero_snr; w = 1: the
 * prompt only, w = 0: the empty prompt only, one forward a step); image k's
 * noise comes from rng[k]. With known (RePaint inpainting, methods.md 1.3, 2): every
 * value where keep [G,H,W] is nonzero follows known [G,H,W] in [0,1], with jump and
 * resample (L and R). The U-Net runs on at most batch images at once, planned once for
 * (n, batch, H, W). */
typedef struct {
	int steps, batch;
	double eta, guidance;
	int jump, resample;           /* RePaint's L and R; 0: none */
	const float *known;           /* NULL: plain sampling */
	const uint8_t *keep;
	int sampler;                  /* MS_SAMPLER_DDIM (0), or MS_SAMPLER_DPM2M: ms_dpm2m
	                               * (eta 0, no known) */
} ms_gen_sample_opt;
int ms_gen_sample(ms_gen *g, const ms_gen_sample_opt *o, int H, int W, const float *cond,
                  const char *prompt, int n, ms_rng *rng, float *out);
size_t ms_gen_planned_bytes(const ms_gen *g);

/* ---- the training set: images (any of 1 or C channels), masks of a joint model,
 * conditions, prompts */
typedef struct ms_gen_data ms_gen_data;
ms_gen_data *ms_gen_data_new(int K, int joint, int H, int W);
void ms_gen_data_free(ms_gen_data *d);
/* takes a copy of img [c,H,W] in [0,1], mask [H,W] (> 0.5 is foreground; joint data
 * only, else ignored and may be NULL) and cond [K,H,W] */
int ms_gen_data_add(ms_gen_data *d, const float *img, int c, const float *mask,
                    const float *cond, const char *prompt);
int ms_gen_data_count(const ms_gen_data *d);
int ms_gen_data_channels(const ms_gen_data *d);  /* 3 if any image is RGB, else 1 */
int ms_gen_data_prompts(const ms_gen_data *d);   /* distinct prompts */
/* a batch of N sharing one prompt: a first sample uniformly at random, the others
 * uniformly among samples with its prompt; x0 [N,C+joint,H,W] in [-1,1] (grey repeated
 * when C = 3; the mask, -1 or +1, last), cond [N,K,H,W]; returns the prompt */
const char *ms_gen_data_batch(const ms_gen_data *d, ms_rng *r, int N, int C, float *x0,
                              float *cond);

/* ---- ms-sample's samples (synth.c) */
/* the training set read from a stream: ms_sample_each(in, name, ms_gen_add_sample, &rd)
 * adds each sample's "image" record ([1,H,W], [3,H,W] or [H,W]; never a condition) with
 * its condition records cfg->cond (resized first to size WxH when size[0]) and its
 * prompt (prompt, else the image's prompt=) to data, made by the first sample (of
 * height H and width W: multiples of 2^(nmult-1), the size of every later one).
 * Samples without an image record count in skipped. -1 with the reason (naming the
 * sample) on a bad record, shape or size. */
typedef struct {
	const ms_gen_cfg *cfg;
	int size[2];                  /* W, H; 0: as read */
	const char *prompt;           /* NULL: the samples' own */
	ms_gen_data *data;            /* NULL until the first sample; the caller frees it */
	int H, W, skipped;
} ms_gen_reader;
int ms_gen_add_sample(ms_sample *s, void *ctx);

/* the synthetic samples of one real sample s: s is written to out as it is, then, when
 * it has every condition record of g (the first of them [1,H,W] or [H,W] gives the
 * size), n samples <id>.s<k>: an image (the metadata of s's first image record unless
 * "image" is a condition, less source=, with of=<id> synthetic=1 prompt= seed=), then
 * copies of its mask (unless a condition) and of its conditions, each with id=<id>.s<k>
 * and of=<id>. The prompt is prompt, else the image's prompt=, else the first
 * condition's; image k's noise comes from Philox (seed, hash of "<id>.s<k>"). */
typedef struct {
	ms_gen_sample_opt sample;
	int n;
	long seed;
	const char *prompt;           /* NULL: the sample's own */
	int inpaint;                  /* joint models: new lesions inside the real mask */
	int dilate, open;             /* ellipse sizes; 0: 20 and 16 px at 256 (morph.h) */
	int core;                     /* inpaint: the mask eroded by this ellipse stays known
	                               * too (the real lesion's core; 0: none) */
	int reshape;                  /* inpaint: pair k's mask is given, the real one under
	                               * a random affine map about its centroid (drawn from
	                               * seed and "<id>.s<k>"); the model redraws the image
	                               * round both masks to match it (not with core) */
} ms_gen_synth_opt;
int ms_gen_synth(ms_gen *g, const ms_gen_synth_opt *o, ms_sample *s, FILE *out);

/* the training settings a checkpoint's "model" record keeps (seed= batch= lr= p_uncond=
 * ema=, and precision= as every checkpoint), and the options (long name, key) --resume
 * takes from it (ms_ckpt_opts) */
#define MS_GEN_CKPT_KEYS 6
extern const char *const ms_gen_ckpt_keys[MS_GEN_CKPT_KEYS][2];
int ms_gen_ckpt_meta(ms_rec *r, long seed, long batch, double lr, double p_uncond,
                     double ema);

#endif

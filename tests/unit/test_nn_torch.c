/* PyTorch parity: tests/ref/nn_unet_ref.py exports ref_unet.py's U-Nets (segmentor;
 * diffusion with time embedding and attention; a variant of other width, depth and
 * channels) with their outputs on fixed inputs; the
 * C U-Net loads the checkpoints by name and must reproduce the outputs and, for the
 * backward of sum(r y), every parameter gradient.
 * Skips (prints "skip") when /usr/bin/python3 has no torch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "io/stream.h"
#include "nn/nn.h"
#include "test.h"

static char dir[] = "/tmp/test_nn_torch.XXXXXX";

/* records x, t, y, r, grad.NAME of NAME_io.ms */
static ms_rec io[512];
static int nio;

static ms_rec *io_get(const char *name)
{
	for (int i = 0; i < nio; i++)
		if (!strcmp(io[i].name, name))
			return &io[i];
	return NULL;
}

static int read_io(const char *path)
{
	FILE *f = fopen(path, "rb");
	int ret;
	if (!f)
		return -1;
	for (nio = 0; nio < 512; nio++) {
		ms_rec_init(&io[nio]);
		if ((ret = ms_rec_read(f, &io[nio])) != 1)
			break;
	}
	fclose(f);
	return ret;
}

static double maxabs(const float *a, const float *b, int64_t n, double *scale)
{
	double m = 0, s = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (b ? b[i] : 0));
		m = d > m ? d : m;
		s = fabs(a[i]) > s ? fabs(a[i]) : s;
	}
	if (scale)
		*scale = s;
	return m;
}

static void compare(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s.ms", dir, name);
	ms_unet *u = ms_unet_load(path, NULL, NULL);
	if (!u)
		fprintf(stderr, "%s\n", ms_errmsg());
	CHECK(u != NULL);
	snprintf(path, sizeof path, "%s/%s_io.ms", dir, name);
	CHECK(read_io(path) == 0);
	ms_rec *x = io_get("x"), *t = io_get("t"), *y = io_get("y"), *r = io_get("r");
	CHECK(x && y && r);
	if (!u || !x || !y || !r)
		return;
	int N = (int)x->t.shape[0], H = (int)x->t.shape[2], W = (int)x->t.shape[3];
	CHECK(ms_unet_plan(u, N, H, W, 1) == 0);
	float *out = ms_unet_forward(u, x->t.data, t ? t->t.data : NULL, NULL);
	double scale, d = maxabs(y->t.data, out, ms_tensor_numel(&y->t), &scale);
	printf("%s: %dx%dx%dx%d, forward max |C - torch| %.3g, max |torch| %.3g, relative %.3g\n",
	       name, N, (int)y->t.shape[1], H, W, d, scale, d / scale);
	CHECK(d / scale < 1e-4);
	/* backward of sum(r y): every parameter gradient against torch's */
	ms_params *ps = ms_unet_params(u);
	ms_params_zero_grad(ps);
	ms_unet_backward(u, r->t.data);
	double worst = 0;
	const char *wname = "";
	int found = 0;
	for (int k = 0; k < ps->n; k++) {
		char gname[128];
		snprintf(gname, sizeof gname, "grad.%s", ps->p[k]->name);
		ms_rec *g = io_get(gname);
		if (!g || ms_tensor_numel(&g->t) != (int64_t)ps->p[k]->n)
			continue;
		found++;
		double e = maxabs(g->t.data, ps->p[k]->g, ms_tensor_numel(&g->t), &scale);
		e /= scale > 1e-3 ? scale : 1e-3;
		if (e > worst) {
			worst = e;
			wname = ps->p[k]->name;
		}
	}
	printf("%s: %d parameter gradients, worst relative difference %.3g (%s)\n", name, found,
	       worst, wname);
	CHECK(found == ps->n);
	CHECK(worst < 1e-3);
	for (int i = 0; i < nio; i++)
		ms_rec_free(&io[i]);
	ms_unet_free(u);
}

int main(void)
{
	char cmd[256];
	ms_threads(0);
	if (!mkdtemp(dir))
		return 1;
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/nn_unet_ref.py %s", dir);
	int st = system(cmd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		printf("skip\n");
		rmdir(dir);
		return 0;
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!test_failed) {
		compare("seg");
		compare("diff");
		compare("var");
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return test_summary("nn_torch");
}

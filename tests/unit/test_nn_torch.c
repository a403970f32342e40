/* PyTorch parity: tests/ref/nn_unet_ref.py exports ref_unet.py's U-Nets (segmentor;
 * diffusion with time embedding and attention) with their outputs on fixed inputs; the
 * C U-Net loads the checkpoints by name and must reproduce the outputs.
 * Skips (prints "skip") when /usr/bin/python3 has no torch. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/nn.h"
#include "test.h"

static char dir[] = "/tmp/test_nn_torch.XXXXXX";

static int read_io(const char *path, ms_rec *x, ms_rec *t, ms_rec *y)
{
	FILE *f = fopen(path, "rb");
	ms_rec r;
	int ret;
	if (!f)
		return -1;
	ms_rec_init(&r);
	while ((ret = ms_rec_read(f, &r)) == 1) {
		ms_rec *dst = !strcmp(r.name, "x") ? x : !strcmp(r.name, "t") ? t : y;
		*dst = r;
		ms_rec_init(&r);
	}
	fclose(f);
	return ret;
}

static void compare(const char *name)
{
	char path[128];
	ms_rec x, t, y;
	ms_rec_init(&x);
	ms_rec_init(&t);
	ms_rec_init(&y);
	snprintf(path, sizeof path, "%s/%s.ms", dir, name);
	ms_unet *u = ms_unet_load(path, NULL, NULL);
	if (!u)
		fprintf(stderr, "%s\n", ms_errmsg());
	CHECK(u != NULL);
	snprintf(path, sizeof path, "%s/%s_io.ms", dir, name);
	CHECK(read_io(path, &x, &t, &y) == 0);
	if (!u || !x.t.data || !y.t.data)
		return;
	int N = (int)x.t.shape[0], H = (int)x.t.shape[2], W = (int)x.t.shape[3];
	CHECK(ms_unet_plan(u, N, H, W, 0) == 0);
	float *out = ms_unet_forward(u, x.t.data, t.t.data, NULL);
	const float *ref = y.t.data;
	int64_t n = ms_tensor_numel(&y.t);
	double maxd = 0, maxy = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = out[i] - ref[i];
		maxd = d > maxd ? d : -d > maxd ? -d : maxd;
		maxy = ref[i] > maxy ? ref[i] : -ref[i] > maxy ? -ref[i] : maxy;
	}
	printf("%s: %dx%dx%dx%d, max |C - torch| %.3g, max |torch| %.3g, relative %.3g\n", name,
	       N, (int)y.t.shape[1], H, W, maxd, maxy, maxd / maxy);
	CHECK(maxd / maxy < 1e-4);
	ms_rec_free(&x);
	ms_rec_free(&t);
	ms_rec_free(&y);
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
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return test_summary("nn_torch");
}

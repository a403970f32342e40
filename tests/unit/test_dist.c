/* core/dist on one rank (the MPI runs are tests/80-scale.bats), models/train's ms_grads
 * and core/rng's shards. */
#include <string.h>

#include "core/dist.h"
#include "core/rng.h"
#include "core/util.h"
#include "models/train.h"
#include "nn/nn.h"
#include "test.h"

/* parts summed left to right, the same bits as a loop that adds them in order */
static void test_sum_parts(void)
{
	enum { P = 3, N = 5 };
	float part[P * N], out[N];
	for (int i = 0; i < P * N; i++)
		part[i] = 1.0f / (float)(i + 3) * (i % 2 ? -1e4f : 1e-4f);
	float want[N];
	for (int i = 0; i < N; i++)
		want[i] = (part[i] + part[N + i]) + part[2 * N + i];
	CHECK(ms_dist_init() == 0 && ms_dist_size() == 1 && ms_dist_rank() == 0);
	CHECK(ms_dist_sum_parts(part, P, N, out) == 0);
	CHECK(!memcmp(out, want, sizeof want));
	double v[2] = { 15, 0.5 }, all[2];
	CHECK(ms_dist_max(v, 2) == 0 && v[0] == 15 && v[1] == 0.5);
	CHECK(ms_dist_gather(v, 2, all) == 0 && all[0] == 15 && all[1] == 0.5);
	CHECK(ms_dist_stream(stdin, "<stdin>") == stdin);
}

/* ms_grads: a linear model y = w x, loss mean (w x - t)^2 over a batch of 4; in 1, 2
 * and 4 parts the gradient is the batch's (up to rounding), the loss too */
static const float xs[4] = { 1, 2, -3, 0.5f }, ts[4] = { 0.5f, -1, 2, 4 };
static ms_param *wp;

static int part(void *ctx, int b0, int b1, double w, double *loss, double *aux)
{
	(void)ctx;
	double l = 0;
	for (int b = b0; b < b1; b++) {
		double e = wp->w[0] * xs[b] - ts[b];
		l += e * e / (b1 - b0);
		wp->g[0] += (float)(w * 2 * e * xs[b] / (b1 - b0));
	}
	*loss = l * w;
	*aux = b0;
	return 0;
}

static void test_grads(void)
{
	ms_params ps = { 0 };
	int64_t one[1] = { 1 };
	wp = ms_param_add(&ps, "w", "", 1, one);
	wp->w[0] = 0.75f;
	double want = 0, gwant = 0;
	for (int b = 0; b < 4; b++) {
		double e = wp->w[0] * xs[b] - ts[b];
		want += e * e / 4;
		gwant += 2 * e * xs[b] / 4;
	}
	for (int P = 1; P <= 4; P *= 2) {
		ms_grads g;
		double loss, aux;
		CHECK(ms_grads_init(&g, &ps, 4, P) == 0 && g.P == P && g.local == P);
		CHECK(ms_grads_step(&g, part, NULL, &loss, &aux) == 0);
		CHECK_NEAR(loss, want, 1e-9);
		CHECK_NEAR(wp->g[0], gwant, 1e-5);
		CHECK(aux == (P == 1 ? 0 : P == 2 ? 2 : 6));    /* the parts' aux, summed */
		ms_grads_free(&g);
	}
	ms_grads g;
	CHECK(ms_grads_init(&g, &ps, 4, 3) < 0);
	CHECK(strstr(ms_errmsg(), "a batch of 4 cannot be cut into 3 equal parts") != NULL);
	CHECK(ms_grads_init(&g, &ps, 4, 0) == 0 && g.P == 1);      /* one per rank */
	ms_grads_free(&g);
	ms_params_free(&ps);
}

static void test_shards(void)
{
	ms_shard sh;
	CHECK(ms_shard_parse("2/8", &sh) == 0 && sh.k == 2 && sh.n == 8);
	const char *bad[] = { "0/8", "9/8", "8", "/8", "2/", "a/b", "2/8x", "-1/8", "1/0" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(ms_shard_parse(bad[i], &sh) < 0);
	/* every id in exactly one shard, the shards about even, and apart from the hold-out */
	enum { N = 5, IDS = 5000 };
	int count[N] = { 0 }, val0 = 0;
	for (int i = 0; i < IDS; i++) {
		char id[32];
		snprintf(id, sizeof id, "case_%04d", i);
		int in = 0;
		for (int k = 1; k <= N; k++) {
			ms_shard s = { k, N };
			if (ms_shard_has(&s, id)) {
				in++;
				count[k - 1]++;
				val0 += k == 1 && ms_id_fraction(id) < 0.2;
			}
		}
		CHECK(in == 1);
	}
	for (int k = 0; k < N; k++)
		CHECK(count[k] > IDS / N * 0.9 && count[k] < IDS / N * 1.1);
	CHECK(val0 > count[0] * 0.15 && val0 < count[0] * 0.25);   /* not the hold-out */
	ms_shard all = { 0, 0 };
	CHECK(ms_shard_has(&all, "anything"));
}

int main(void)
{
	RUN(test_sum_parts);
	RUN(test_grads);
	RUN(test_shards);
	return test_summary("test_dist");
}

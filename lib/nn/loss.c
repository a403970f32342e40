/* Losses: BCE with logits, soft Dice, MSE. Each returns the loss and writes its gradient. */
#include <math.h>

#include "nn.h"

static void put(float *d, size_t i, float v, int acc)
{
	d[i] = acc ? d[i] + v : v;
}

/* mean over n of max(x,0) - x y + log(1 + exp(-|x|)) */
double ms_loss_bce(const float *logit, const float *y, size_t n, float *d, float w, int acc)
{
	double s = 0;
	float k = w / (float)n;
	for (size_t i = 0; i < n; i++) {
		float x = logit[i];
		s += (x > 0 ? x : 0) - x * y[i] + log1pf(expf(-fabsf(x)));
		if (d)
			put(d, i, k * (1.0f / (1.0f + expf(-x)) - y[i]), acc);
	}
	return s / n;
}

double ms_loss_dice(const float *logit, const float *y, int N, size_t per, float *d, float w,
                    int acc)
{
	double loss = 0;
	for (int n = 0; n < N; n++) {
		const float *x = logit + n * per, *t = y + n * per;
		double inter = 0, sp = 0, sy = 0;
		for (size_t i = 0; i < per; i++) {
			double p = 1 / (1 + exp(-(double)x[i]));
			inter += p * t[i];
			sp += p;
			sy += t[i];
		}
		double num = 2 * inter + 1, den = sp + sy + 1;
		loss += 1 - num / den;
		if (!d)
			continue;
		/* dL/dp_i = -(2 y_i den - num) / den^2, times p(1-p), over N */
		for (size_t i = 0; i < per; i++) {
			double p = 1 / (1 + exp(-(double)x[i]));
			double g = -(2 * t[i] * den - num) / (den * den) * p * (1 - p) / N;
			put(d + n * per, i, (float)(w * g), acc);
		}
	}
	return loss / N;
}

double ms_loss_mse(const float *pred, const float *y, size_t n, float *d, float w, int acc)
{
	double s = 0;
	float k = 2 * w / (float)n;
	for (size_t i = 0; i < n; i++) {
		float e = pred[i] - y[i];
		s += (double)e * e;
		if (d)
			put(d, i, k * e, acc);
	}
	return s / n;
}

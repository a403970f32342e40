/* The segmentor's data set (segment.h): real and synthetic samples in memory, images in
 * the model's channels, the fixed validation split by hash of id, synthetic samples
 * linked to their real ones. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "core/util.h"
#include "image/image.h"
#include "models/segment.h"

const char *const ms_seg_synth_names[] = { "mix", "extra", "ignore", NULL };

int ms_seg_synth_parse(const char *s)
{
	int i = ms_name_index(s, ms_seg_synth_names, 3);
	return i < 0 ? -1 : MS_SYN_MIX + i;
}

void ms_seg_data_init(ms_seg_data *d)
{
	memset(d, 0, sizeof *d);
}

void ms_seg_data_free(ms_seg_data *d)
{
	for (int i = 0; i < d->n; i++) {
		free(d->s[i].id);
		free(d->s[i].of);
		free(d->s[i].img);
		free(d->s[i].mask);
	}
	free(d->s);
	free(d->train);
	free(d->val);
	free(d->syn);
	ms_seg_data_init(d);
}

int ms_seg_convert(const ms_tensor *img, int want, float *out)
{
	int c, h, w;
	if (ms_image_dims(img, &c, &h, &w) < 0)
		return -1;
	size_t n = (size_t)h * w;
	if (c == want && img->dtype == MS_F32) {
		memcpy(out, img->data, (size_t)c * n * sizeof *out);
	} else if (c == want || (c == 3 && want == 1)) {
		ms_tensor t = *img;     /* one plane at a time through the luma routine */
		if (c == 3 && want == 1)
			return ms_image_luma(img, out);
		for (int k = 0; k < c; k++) {
			t.rank = 3;
			t.shape[0] = 1;
			t.shape[1] = h;
			t.shape[2] = w;
			t.data = (char *)img->data + k * n * ms_dtype_size(img->dtype);
			if (ms_image_luma(&t, out + k * n) < 0)
				return -1;
		}
	} else if (c == 1 && want == 3) {
		if (ms_image_luma(img, out) < 0)
			return -1;
		memcpy(out + n, out, n * sizeof *out);
		memcpy(out + 2 * n, out, n * sizeof *out);
	} else {
		return ms_error("image has %d channels, the model takes %d", c, want);
	}
	return 0;
}

int ms_seg_data_add(ms_seg_data *d, const char *id, const char *of, const ms_tensor *img,
                    const ms_tensor *mask)
{
	int c, h, w, mc, mh, mw;
	if (ms_image_dims(img, &c, &h, &w) < 0)
		return ms_error("sample '%s': image: %s", id, ms_errmsg());
	if (c != 1 && c != 3)
		return ms_error("sample '%s': image has %d channels, expected 1 or 3", id, c);
	if (h % 4 || w % 4)
		return ms_error("sample '%s': image %dx%d: width and height must be multiples of 4 "
		                "(resize with ms-import --size)", id, w, h);
	if (d->n == 0) {
		d->C = c;
		d->H = h;
		d->W = w;
	} else if (c != d->C || h != d->H || w != d->W) {
		return ms_error("sample '%s': image %dx%dx%d differs from the first (%dx%dx%d): "
		                "training images must all have one size (ms-import --size)",
		                id, c, w, h, d->C, d->W, d->H);
	}
	if (mask && (ms_image_dims(mask, &mc, &mh, &mw) < 0 || mc != 1 || mh != h || mw != w))
		return ms_error("sample '%s': mask is not one %dx%d plane", id, w, h);
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 64;
		ms_seg_sample *s = ms_reallocarray(d->s, cap, sizeof *s);
		if (!s)
			return -1;
		d->s = s;
		d->cap = cap;
	}
	ms_seg_sample *s = &d->s[d->n];
	memset(s, 0, sizeof *s);
	size_t n = (size_t)h * w;
	s->id = ms_strdup(id);
	s->of = of ? ms_strdup(of) : NULL;
	s->img = ms_malloc((size_t)c * n * sizeof(float));
	s->mask = mask ? ms_malloc(n * sizeof(float)) : NULL;
	d->n++;                  /* freed by ms_seg_data_free even when incomplete */
	if (!s->id || (of && !s->of) || !s->img || (mask && !s->mask))
		return -1;
	if (ms_seg_convert(img, c, s->img) < 0)
		return ms_error("sample '%s': %s", id, ms_errmsg());
	if (mask) {
		if (ms_image_luma(mask, s->mask) < 0)
			return ms_error("sample '%s': mask: %s", id, ms_errmsg());
		for (size_t i = 0; i < n; i++)
			s->mask[i] = s->mask[i] != 0;
	}
	return 0;
}

int ms_seg_is_val(const char *id, double frac)
{
	return ms_id_fraction(id) < frac;
}

static const ms_seg_data *sort_d;
static int by_id(const void *a, const void *b)
{
	return strcmp(sort_d->s[*(const int *)a].id, sort_d->s[*(const int *)b].id);
}

int ms_seg_data_split(ms_seg_data *d, double frac)
{
	int nreal = 0, *ord = NULL;
	for (int i = 0; i < d->n; i++)
		nreal += !d->s[i].of;
	if (!(d->train = ms_calloc(nreal + 1, sizeof(int))) ||
	    !(d->val = ms_calloc(nreal + 1, sizeof(int))) ||
	    !(d->syn = ms_calloc(d->n - nreal + 1, sizeof(int))) ||
	    !(ord = ms_calloc(nreal + 1, sizeof(int))))
		goto fail;
	d->ntrain = d->nval = d->nsyn = d->nsyn_dropped = d->nsyn_leak = d->norphan = 0;
	int k = 0;
	for (int i = 0; i < d->n; i++) {
		ms_seg_sample *s = &d->s[i];
		if (s->of)
			continue;
		s->val = s->held || ms_seg_is_val(s->id, frac);
		if (s->val)
			d->val[d->nval++] = i;
		else
			d->train[d->ntrain++] = i;
		s->nsyn = s->syn0 = 0;
		ord[k++] = i;
	}
	sort_d = d;
	qsort(ord, nreal, sizeof *ord, by_id);
	for (int i = 1; i < nreal; i++)
		if (!strcmp(d->s[ord[i]].id, d->s[ord[i - 1]].id)) {
			ms_error("sample id '%s' occurs twice in the stream", d->s[ord[i]].id);
			goto fail;
		}
	/* link each synthetic sample to its real one; count per real sample */
	for (int i = 0; i < d->n; i++) {
		ms_seg_sample *s = &d->s[i];
		if (!s->of)
			continue;
		int idx = -1, lo = 0, hi = nreal;
		while (lo < hi) {        /* binary search of ord by id */
			int mid = (lo + hi) / 2, c = strcmp(s->of, d->s[ord[mid]].id);
			if (!c) {
				idx = ord[mid];
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		s->real = idx;
		if (idx < 0 && s->pair)
			d->norphan++;        /* a pair of an image not in the stream: kept */
		else if (idx < 0)
			d->nsyn_dropped++;
		else if (d->s[idx].val)
			d->nsyn_leak++;
		else
			d->s[idx].nsyn++;
	}
	int pos = 0, orph;
	for (int i = 0; i < d->n; i++)
		if (!d->s[i].of) {
			d->s[i].syn0 = pos;
			pos += d->s[i].nsyn;
			d->s[i].nsyn = 0;
		}
	orph = pos;                  /* the orphan pairs follow the groups */
	for (int i = 0; i < d->n; i++) {
		ms_seg_sample *s = &d->s[i];
		if (s->of && s->real >= 0 && !d->s[s->real].val) {
			ms_seg_sample *r = &d->s[s->real];
			d->syn[r->syn0 + r->nsyn++] = i;
			d->nsyn++;
		} else if (s->of && s->real < 0 && s->pair) {
			d->syn[orph++] = i;
			d->nsyn++;
		}
	}
	free(ord);
	if (d->ntrain == 0)
		return ms_error("no real training samples (%d for validation)", d->nval);
	return 0;
fail:
	free(ord);
	return -1;
}


/* Dense tensors: dtype, shape, data. */
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "core/util.h"

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[MS_U8] = { "u8", 1 },
	[MS_U16] = { "u16", 2 },
	[MS_I32] = { "i32", 4 },
	[MS_F32] = { "f32", 4 },
};

size_t ms_dtype_size(int d)
{
	return d > MS_INVALID && d <= MS_F32 ? dtypes[d].size : 0;
}

const char *ms_dtype_name(int d)
{
	return d > MS_INVALID && d <= MS_F32 ? dtypes[d].name : NULL;
}

int ms_dtype_parse(const char *s)
{
	for (int d = MS_U8; d <= MS_F32; d++)
		if (!strcmp(s, dtypes[d].name))
			return d;
	return MS_INVALID;
}

int64_t ms_tensor_numel(const ms_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++)
		n *= t->shape[i];
	return n;
}

size_t ms_tensor_bytes(const ms_tensor *t)
{
	return (size_t)ms_tensor_numel(t) * ms_dtype_size(t->dtype);
}

int ms_tensor_alloc(ms_tensor *t, int dtype, int rank, const int64_t *shape)
{
	size_t n = ms_dtype_size(dtype);
	if (!n)
		return ms_error("invalid dtype %d", dtype);
	if (rank < 0 || rank > MS_MAX_RANK)
		return ms_error("rank %d out of range", rank);
	for (int i = 0; i < rank; i++)
		if (shape[i] < 0 || ms_mul_overflow(n, (size_t)shape[i], &n))
			return ms_error("tensor size overflows");
	if (n > MS_PAYLOAD_MAX)
		return ms_error("tensor of %zu bytes exceeds the limit", n);
	void *p = ms_calloc(1, n);
	if (!p)
		return -1;
	t->dtype = dtype;
	t->rank = rank;
	for (int i = 0; i < MS_MAX_RANK; i++)
		t->shape[i] = i < rank ? shape[i] : 0;
	t->data = p;
	return 0;
}

void ms_tensor_free(ms_tensor *t)
{
	if (!t)
		return;
	free(t->data);
	t->data = NULL;
}

int ms_tensor_to_f32(ms_tensor *t, int scale)
{
	size_t n = (size_t)ms_tensor_numel(t);
	if (t->dtype == MS_F32)
		return 0;
	float *f = ms_calloc(n, sizeof *f);
	if (!f)
		return -1;
	switch (t->dtype) {
	case MS_U8:
		for (size_t i = 0; i < n; i++)
			f[i] = ((uint8_t *)t->data)[i] * (scale ? 1.0f / 255 : 1.0f);
		break;
	case MS_U16:
		for (size_t i = 0; i < n; i++)
			f[i] = ((uint16_t *)t->data)[i] * (scale ? 1.0f / 65535 : 1.0f);
		break;
	case MS_I32:
		for (size_t i = 0; i < n; i++)
			f[i] = (float)((int32_t *)t->data)[i];
		break;
	default:
		free(f);
		return ms_error("invalid dtype %d", t->dtype);
	}
	free(t->data);
	t->data = f;
	t->dtype = MS_F32;
	return 0;
}

/* Tensors: dtypes, shapes, allocation (tensor.c). */
#ifndef MS_TENSOR_H
#define MS_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* ---- tensors: dense, row-major, outermost first ([C,H,W], [N,C,H,W]) */
enum { MS_INVALID = 0, MS_U8 = 1, MS_U16 = 2, MS_I32 = 3, MS_F32 = 4 };
#define MS_MAX_RANK 4
/* the largest tensor in bytes, and so the largest record payload (64 GiB decoded) */
#define MS_PAYLOAD_MAX ((uint64_t)1 << 36)

typedef struct {
	int dtype;
	int rank;
	int64_t shape[MS_MAX_RANK];
	void *data;
} ms_tensor;

size_t ms_dtype_size(int dtype);        /* 0 for invalid */
const char *ms_dtype_name(int dtype);   /* "u8", ..., NULL for invalid */
int ms_dtype_parse(const char *s);      /* MS_INVALID if unknown */
int64_t ms_tensor_numel(const ms_tensor *t);
size_t ms_tensor_bytes(const ms_tensor *t);
/* allocate zeroed data for the given dtype and shape; -1 on overflow/OOM */
int ms_tensor_alloc(ms_tensor *t, int dtype, int rank, const int64_t *shape);
void ms_tensor_free(ms_tensor *t);       /* frees data, NULL-safe, leaves dtype/shape */
/* convert in place to f32 (u8/u16 scaled to [0,1] when scale is set, else raw values) */
int ms_tensor_to_f32(ms_tensor *t, int scale);

#endif

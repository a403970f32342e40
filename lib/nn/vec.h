/* Internal: 16-float vectors (GCC vector extensions), so that the elementwise loops
 * vectorise at -O2 without -ffast-math. */
#ifndef MS_NN_VEC_H
#define MS_NN_VEC_H

#include <stdint.h>
#include <string.h>

#define VL 16

/* The build targets any x86-64 (no -march); the hot loops are compiled three times,
 * for AVX-512, AVX2 and the baseline, and the loader picks one for the CPU it runs on
 * (GCC's target_clones). Results do not depend on the pick: a vector is 16 floats on
 * every path and ISO C mode keeps multiply-adds unfused. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(MS_NO_CLONES)
#ifndef MS_CLONE_TARGETS     /* e.g. -DMS_CLONE_TARGETS='"avx2","default"' to test a path */
#define MS_CLONE_TARGETS "avx512f", "avx2", "default"
#endif
#define MS_CLONES __attribute__((target_clones(MS_CLONE_TARGETS)))
#else
#define MS_CLONES
#endif
/* always inlined into each clone: a 64-byte vector passed between an AVX-512 clone and
 * an out-of-line baseline copy would not agree on the calling convention */
#define VINLINE static inline __attribute__((always_inline))
typedef float vf __attribute__((vector_size(4 * VL)));
typedef int32_t vi __attribute__((vector_size(4 * VL)));

/* m floats (m <= VL; missing lanes are 0) */
VINLINE vf vload(const float *p, size_t m)
{
	vf v = { 0 };
	if (m == VL)
		memcpy(&v, p, sizeof v);
	else
		memcpy(&v, p, m * sizeof *p);
	return v;
}

VINLINE void vstore(float *p, vf v, size_t m)
{
	if (m == VL)
		memcpy(p, &v, sizeof v);
	else
		memcpy(p, &v, m * sizeof *p);
}

VINLINE size_t vlen(size_t i, size_t n)
{
	return n - i < VL ? n - i : VL;
}

VINLINE vf vsel(vi m, vf a, vf b)
{
	return (vf)(((vi)a & m) | ((vi)b & ~m));
}

VINLINE float vsum(vf v)
{
	float s = 0;
	for (int i = 0; i < VL; i++)
		s += v[i];
	return s;
}

/* exp: Cephes expf polynomial, relative error about 2e-7, input clamped to [-87, 88];
 * NaN gives NaN (computed on 0: a NaN converted to int is undefined) */
VINLINE vf vexp(vf x)
{
	vf z = { 0 }, in = x;
	vi nan = x != x;
	x = vsel(nan, z, x);
	x = vsel(x < -87.0f, z - 87.0f, x);
	x = vsel(x > 88.0f, z + 88.0f, x);
	vi k = __builtin_convertvector(x * 1.44269504089f + 128.5f, vi) - 128;
	vf n = __builtin_convertvector(k, vf);
	vf r = x - n * 0.693359375f + n * 2.12194440e-4f;
	vf p = r * 1.9875691500e-4f + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	return vsel(nan, in, p * (vf)((k + 127) << 23));
}

VINLINE vf vsigmoid(vf x)
{
	return 1.0f / (1.0f + vexp(-x));
}

/* d silu'(x): the gradient at x of silu(x) = x sigmoid(x) from d, its gradient there */
VINLINE vf vsilu_grad(vf d, vf x)
{
	vf s = vsigmoid(x);
	return d * s * (1.0f + x * (1.0f - s));
}

#endif

/* p[i] = (acc ? p[i] : 0) + c */
VINLINE void vfill(float *p, float c, size_t n, int acc)
{
	for (size_t i = 0; i < n; i += VL) {
		size_t m = vlen(i, n);
		vf z = { 0 };
		vstore(p + i, (acc ? vload(p + i, m) : z) + c, m);
	}
}

/* d[i] = (acc ? d[i] : 0) + s[i] */
VINLINE void vadd(float *d, const float *s, size_t n, int acc)
{
	if (!acc) {
		memcpy(d, s, n * sizeof *d);
		return;
	}
	for (size_t i = 0; i < n; i += VL) {
		size_t m = vlen(i, n);
		vstore(d + i, vload(d + i, m) + vload(s + i, m), m);
	}
}

/* d[i] = (acc ? d[i] : 0) + s[i] + c */
VINLINE void vaddb(float *d, const float *s, float c, size_t n, int acc)
{
	for (size_t i = 0; i < n; i += VL) {
		size_t m = vlen(i, n);
		vf z = { 0 };
		vstore(d + i, (acc ? vload(d + i, m) : z) + vload(s + i, m) + c, m);
	}
}

VINLINE float vsumarr(const float *p, size_t n)
{
	vf a = { 0 };
	for (size_t i = 0; i < n; i += VL)
		a += vload(p + i, vlen(i, n));
	return vsum(a);
}

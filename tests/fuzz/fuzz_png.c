/* libFuzzer: PNG import (lib/io/png.c) on arbitrary bytes: the file as it is, then as
 * ms-import reads images (resized, clipped) and masks row by row. */
#include "fuzz_file.h"

#include "core/ms.h"
#include "io/png.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	ms_tensor t = { 0 };
	int bits;
	double sp[2];
	if (ms_png_read(path, &t, &bits, sp) < 0)
		return 0;
	ms_tensor_free(&t);
	/* bytes of the file pick the output size, clipping and image or mask */
	ms_png_opts o = { .h = 1 + data[size / 2] % 9, .w = 1 + data[size / 3] % 11,
	                  .mask = data[size - 1] & 1, .clip = data[size - 1] & 2,
	                  .plo = 2, .phi = 97, .max_bytes = (size_t)1 << 26 };
	int64_t dim[2], fg;
	if (data[size - 1] & 4)
		o.h = o.w = 0;
	if (ms_png_read_scaled(path, &o, &t, dim, sp, &fg) == 0)
		ms_tensor_free(&t);
	return 0;
}

/* libFuzzer: PNG import (lib/png.c) on arbitrary bytes: the file as it is, then as
 * ms-import reads images and masks with --size and --clip. */
#include "fuzz_file.h"
#include "io.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	ms_tensor t = { 0 };
	int bits;
	double sp[2];
	if (ms_png_read(path, &t, &bits, sp) == 0)
		ms_tensor_free(&t);
	return 0;
}

/* libFuzzer: NIfTI import (lib/io/nifti.c) on arbitrary bytes, .nii or gzipped: the
 * volume, then its first, middle and last slice along each axis. */
#include "fuzz_file.h"

#include "core/ms.h"
#include "io/nifti.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	ms_nifti n = { 0 };
	if (ms_nifti_read(path, &n) < 0)
		return 0;
	for (int a = 0; a < 3; a++)
		for (int64_t i = 0; i < 3; i++) {
			ms_tensor s = { 0 };
			double sp[2];
			if (ms_nifti_slice(&n, a, i * (n.dim[a] - 1) / 2, n.dim[3] - 1, &s, sp) == 0)
				ms_tensor_free(&s);
		}
	ms_nifti_free(&n);
	return 0;
}

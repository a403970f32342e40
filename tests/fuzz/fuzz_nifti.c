/* libFuzzer: NIfTI import (lib/io/nifti.c) on arbitrary bytes, .nii or gzipped: the
 * volume, then its first, middle and last slice along each axis; its geometry as slice
 * metadata (lib/io/volume.c) must read back as it was; turned to RAS and back, the volume
 * must be the same. */
#include "fuzz_file.h"

#include "core/ms.h"
#include "io/nifti.h"
#include "io/volume.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the geometry through nii.* metadata and back: the same fields */
static void geom_roundtrip(const ms_nifti *n)
{
	ms_rec r;
	ms_vslice vs;
	ms_rec_init(&r);
	float range[2] = { 0, 1 };
	if (ms_vslice_meta_set(&r, "v", &n->geom, range, NULL) == 0 && ms_meta_set(&r, "slice", "0") == 0 &&
	    ms_meta_set(&r, "axis", "z") == 0) {
		int got = ms_vslice_get(&r, &vs);
		/* numbers that are not finite are refused, anything else comes back */
		int finite = 1;
		for (int i = 0; i <= n->geom.dim[0]; i++)
			finite &= isfinite(n->geom.pixdim[i]);
		for (int i = 0; i < 6; i++)
			finite &= isfinite(n->geom.quatern[i]);
		for (int i = 0; i < 12; i++)
			finite &= isfinite(n->geom.srow[i / 4][i % 4]);
		for (int i = 0; i < 3; i++)
			finite &= n->geom.intent_code == 0 || isfinite(n->geom.intent_p[i]);
		if (finite && (got != 1 || memcmp(vs.g.dim, n->geom.dim, sizeof vs.g.dim) ||
		               vs.g.datatype != n->geom.datatype))
			abort();
	}
	ms_rec_free(&r);
}

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
	geom_roundtrip(&n);
	int o[6], inv[6];
	ms_nifti_orientation(&n.geom, 0, o, o + 3);
	for (int k = 0; k < 3; k++) {
		inv[o[k]] = k;
		inv[3 + o[k]] = o[3 + k];
	}
	size_t bytes = ms_tensor_bytes(&n.vol);
	void *copy = malloc(bytes);
	if (copy) {
		memcpy(copy, n.vol.data, bytes);
		if (ms_nifti_reorient(&n, o, o + 3) == 0 && ms_nifti_reorient(&n, inv, inv + 3) == 0 &&
		    memcmp(copy, n.vol.data, bytes))
			abort();
		free(copy);
	}
	ms_nifti_free(&n);
	return 0;
}

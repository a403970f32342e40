/* NIfTI-1 volumes (.nii, .nii.gz) <-> tensors. */
#ifndef MS_NIFTI_H
#define MS_NIFTI_H

#include "ms.h"

typedef struct {
	ms_tensor vol;        /* f32, rank 3 [nz][ny][nx] or 4 [nt][nz][ny][nx], scl_slope/inter applied */
	int64_t dim[4];       /* nx, ny, nz, nt (1 where absent) */
	double spacing[4];    /* pixdim[1..4]: x, y, z, t */
	int datatype;         /* NIfTI datatype code of the file */
} ms_nifti;

int ms_nifti_read(const char *path, ms_nifti *n);   /* -1 + ms_errmsg() on error */
void ms_nifti_free(ms_nifti *n);
/* the 2-D slice `index` along axis (0 = x, 1 = y, 2 = z) of volume t (0-based), as f32
 * [1,H,W] with H, W the two remaining axes in file order (outermost first); spacing[0..1]
 * gets the pixel spacing of (H, W) */
int ms_nifti_slice(const ms_nifti *n, int axis, int64_t index, int64_t t, ms_tensor *out,
                   double spacing[2]);
/* write a [H,W] or [C,H,W] / [D,H,W] tensor (u8, u16, i32 or f32) as a NIfTI-1 volume;
 * spacing may be NULL (1 mm); gz selects gzip; written atomically */
int ms_nifti_write(const char *path, const ms_tensor *t, const double *spacing, int gz);

#endif

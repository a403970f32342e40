/* NIfTI-1 volumes (.nii, .nii.gz) <-> tensors. */
#ifndef MS_NIFTI_H
#define MS_NIFTI_H

#include "core/tensor.h"

/* Limits checked on the header before anything is allocated. */
#define MS_NIFTI_MAX_VOXELS ((int64_t)1 << 31)   /* nx*ny*nz*nt (8 GiB as f32) */
#define MS_NIFTI_MAX_OFFSET ((int64_t)1 << 30)   /* vox_offset: header + extensions */

/* NIfTI-1 datatype codes read (others are refused with a message) */
enum {
	MS_NIFTI_UINT8 = 2, MS_NIFTI_INT16 = 4, MS_NIFTI_INT32 = 8, MS_NIFTI_FLOAT32 = 16,
	MS_NIFTI_FLOAT64 = 64, MS_NIFTI_INT8 = 256, MS_NIFTI_UINT16 = 512, MS_NIFTI_UINT32 = 768
};

typedef struct {
	ms_tensor vol;        /* f32, rank 3 [nz][ny][nx] or 4 [nt][nz][ny][nx], scl_slope/inter applied */
	int64_t dim[4];       /* nx, ny, nz, nt (1 where absent) */
	double spacing[4];    /* pixdim[1..4]: x, y, z, t */
	int datatype;         /* NIfTI datatype code of the file */
} ms_nifti;

/* Reads .nii or .nii.gz (decided by content, not by name), either byte order.
 * dim[0] may be 1 to 7, but dims 5 to 7 must be 1; rank 4 only when nt > 1.
 * spacing: |pixdim|, converted to mm when xyzt_units says m or um; 0 or
 * non-finite becomes 1. -1 + ms_errmsg() on error; n is then empty. */
int ms_nifti_read(const char *path, ms_nifti *n);
void ms_nifti_free(ms_nifti *n);
/* the 2-D slice `index` along axis (0 = x, 1 = y, 2 = z) of volume t (0-based), as f32
 * [1,H,W] with H, W the two remaining axes in file order (outermost first); spacing[0..1]
 * gets the pixel spacing of (H, W) */
int ms_nifti_slice(const ms_nifti *n, int axis, int64_t index, int64_t t, ms_tensor *out,
                   double spacing[2]);
/* write a [H,W] or [C,H,W] / [D,H,W] tensor (u8, u16, i32 or f32) as a NIfTI-1 volume;
 * spacing may be NULL (1 mm); gz selects gzip; written atomically.
 * spacing[i] is the spacing of t->shape[i] (outermost first, t->rank values, > 0);
 * a [T,D,H,W] tensor is written as a 4-D volume. Each dimension must be <= 32767. */
int ms_nifti_write(const char *path, const ms_tensor *t, const double *spacing, int gz);

#endif

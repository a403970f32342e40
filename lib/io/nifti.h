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

/* the header fields that place a volume in space and give its voxels their meaning, as
 * stored in the file (ms-stream(5) carries them as nii.* metadata of every slice) */
typedef struct {
	int dim[8];               /* dim[0] the rank, dim[1..7] */
	float pixdim[8];          /* pixdim[0] is qfac (the sign of the third axis, qform) */
	int datatype, xyzt_units;
	float scl_slope, scl_inter;   /* slope 0 or not finite: values unscaled */
	int intent_code;
	float intent_p[3];
	char intent_name[17];
	int qform_code, sform_code;
	float quatern[6];         /* quatern_b, _c, _d, qoffset_x, _y, _z */
	float srow[3][4];         /* srow_x, srow_y, srow_z: the sform affine's rows */
} ms_nifti_geom;

typedef struct {
	ms_tensor vol;        /* f32, rank 3 [nz][ny][nx] or 4 [nt][nz][ny][nx], scl_slope/inter applied */
	int64_t dim[4];       /* nx, ny, nz, nt (1 where absent) */
	double spacing[4];    /* pixdim[1..4]: x, y, z, t */
	int datatype;         /* NIfTI datatype code of the file */
	ms_nifti_geom geom;   /* the header as stored */
} ms_nifti;

/* Reads .nii or .nii.gz (decided by content, not by name), either byte order.
 * dim[0] may be 1 to 7, but dims 5 to 7 must be 1; rank 4 only when nt > 1.
 * spacing: |pixdim|, converted to mm when xyzt_units says m or um; 0 becomes 1, a
 * non-finite pixdim of a dimension in use is an error. -1 + ms_errmsg() on error; n is then empty. */
int ms_nifti_read(const char *path, ms_nifti *n);
void ms_nifti_free(ms_nifti *n);
/* the 2-D slice `index` along axis (0 = x, 1 = y, 2 = z) of volume t (0-based), as f32
 * [1,H,W] with H, W the two remaining axes in file order (outermost first); spacing[0..1]
 * gets the pixel spacing of (H, W) */
int ms_nifti_slice(const ms_nifti *n, int axis, int64_t index, int64_t t, ms_tensor *out,
                   double spacing[2]);
/* where the 2-D slice `index` along axis of volume t lies in a [nt][nz][ny][nx] volume of
 * dim (nx, ny, nz, nt): pixel (y, x) of the [H,W] slice is element first + y sh + x sw
 * (arguments in range) */
typedef struct {
	int64_t h, w, first, sh, sw;
	int hax, wax;             /* the volume axes of H and W (0 x, 1 y, 2 z) */
} ms_nifti_layout;
void ms_nifti_slice_layout(const int64_t dim[4], int axis, int64_t index, int64_t t,
                           ms_nifti_layout *l);
/* the orientation of g's affine (sform when its code is set, else qform, else pixdim):
 * perm[k] is the voxel axis (0 x, 1 y, 2 z) that runs closest to world axis k, flip[k] 1
 * where it runs against RAS (lps: LPS) along that axis */
void ms_nifti_orientation(const ms_nifti_geom *g, int lps, int perm[3], int flip[3]);
/* src, a volume of dims dim (x first; elements of esize bytes), into dst reordered:
 * axis k of dst is axis perm[k] of src, reversed where flip[k] */
void ms_nifti_permute(const void *src, void *dst, size_t esize, const int64_t dim[4],
                      const int perm[3], const int flip[3]);
/* n's voxels, dim and spacing reordered as ms_nifti_permute (geom stays the file's) */
int ms_nifti_reorient(ms_nifti *n, const int perm[3], const int flip[3]);
/* write a [H,W] or [C,H,W] / [D,H,W] tensor (u8, u16, i32 or f32) as a NIfTI-1 volume;
 * spacing may be NULL (1 mm); gz selects gzip; written atomically.
 * spacing[i] is the spacing of t->shape[i] (outermost first, t->rank values, > 0);
 * a [T,D,H,W] tensor is written as a 4-D volume. Each dimension must be <= 32767. */
int ms_nifti_write(const char *path, const ms_tensor *t, const double *spacing, int gz);
/* write t (u8, u16, i32 or f32, its element count that of g->dim) with the header of g:
 * dims, pixdim, units, qform and sform, intent; the voxels stored as g->datatype (any
 * datatype read above), (v - scl_inter) / scl_slope when g's slope is set and finite,
 * rounded and clamped to the range of an integer datatype (NaN as 0); atomically */
int ms_nifti_write_geom(const char *path, const ms_tensor *t, const ms_nifti_geom *g, int gz);
/* 0 when g describes a volume ms_nifti_read would accept (dim[0] 1..7, dims 1..32767 and 1
 * past the fourth, at most MS_NIFTI_MAX_VOXELS, a datatype it reads); else -1 + message */
int ms_nifti_geom_check(const ms_nifti_geom *g);

#endif

/* Volumes through the stream: the geometry of a NIfTI volume as metadata of each slice
 * that ms-import cuts from it (nii.* keys, ms-stream(5)), and the slices of one volume
 * gathered back onto its grid and written with that geometry (volume.c; ms-export
 * --volume). */
#ifndef MS_VOLUME_H
#define MS_VOLUME_H

#include "io/nifti.h"
#include "io/sample.h"
#include "io/stream.h"

/* where a slice came from, as its metadata says */
typedef struct {
	char id[256];             /* nii.id: the volume (its file's stem) */
	ms_nifti_geom g;          /* nii.dim, nii.pixdim, ... as stored in the file */
	int axis;                 /* axis=: 0 x, 1 y, 2 z */
	int64_t slice, t;         /* slice=, and volume= of a 4-d volume (else 0) */
	int has_range;
	float lo, hi;             /* nii.range: the values ms-import mapped to 0 and 1 */
	int oriented, perm[3], flip[3];   /* nii.orient: the file's voxel axis along x, y, z of
	                           * the slices' grid, reversed where flip (ms_nifti_permute) */
	int64_t grid[4];          /* the dims of the slices' grid: the file's, or reoriented */
} ms_vslice;

/* writes the nii.* keys of volume id with geometry g into r; range (lo, hi) or NULL;
 * orient (perm[3], then flip[3], as ms_nifti_orientation gives them) or NULL */
int ms_vslice_meta_set(ms_rec *r, const char *id, const ms_nifti_geom *g, const float *range,
                       const int *orient);
/* the slice geometry of r: 1, 0 when r has no nii.id, -1 + message when a key is
 * missing or malformed, or the slice lies outside the volume */
int ms_vslice_get(const ms_rec *r, ms_vslice *vs);
/* that of record k of s, else of the first record of s that has one: 1, 0, -1 */
int ms_vslice_find(const ms_sample *s, int k, ms_vslice *vs);

/* a volume being gathered from its slices */
typedef struct {
	ms_vslice geo;            /* the volume's id and geometry, from its first slice */
	ms_tensor vol;            /* [nt][nz][ny][nx] in the records' dtype; 0 where no slice */
	unsigned char *seen;      /* per slice of each volume t */
	int image;                /* imported images: f32 values mapped back to the source's */
	int64_t n;                /* slices added; 0: empty */
} ms_volume;

void ms_volume_init(ms_volume *v);
void ms_volume_free(ms_volume *v);          /* v empty and reusable after */
/* puts record r ([1,H,W] or [H,W]), a slice at vs, into v: the first slice sets up the
 * volume; the others must have its id, grid and dtype, and each slice comes once
 * (but for the slices of a 3-d volume marked volume t > 0, e.g. a 3-d mask that ms-import
 * repeats for each volume t of a 4-d image: left out as repeats of t = 0).
 * A slice not of the grid's size is resized to it (bilinear for f32, else nearest).
 * A record named image, f32 with nii.range, gets its values back as lo + v (hi - lo). */
int ms_volume_add(ms_volume *v, const ms_rec *r, const ms_vslice *vs);
/* writes v (not empty) with its geometry, in the file's axis order when the slices were
 * reoriented: imported images as the source's datatype,
 * scaling and intent; other records as uint8, uint16, int32 or float32 after their
 * dtype, with scl_slope 0 and no intent. Atomically; gz selects gzip. */
int ms_volume_write(const ms_volume *v, const char *path, int gz);

#endif

/* Importing PNG images and NIfTI volumes, with masks found by stem, as samples of
 * ms-stream(5) records (import.c; the library behind ms-import(1)). */
#ifndef MS_IMPORT_H
#define MS_IMPORT_H

#include <stddef.h>
#include <stdio.h>

#include "core/rng.h"

typedef struct {
	int w, h;              /* resize to w x h (bilinear images, nearest masks); 0: keep */
	const char *mask_dir;  /* masks: mask_dir/<stem>.png, .PNG, .nii.gz or .nii (the
	                        * image's kind first); NULL: no masks */
	const char *prompt;    /* prompt=TEXT on every record; NULL: none */
	int clip;              /* PNG: clip to the plo..phi percentiles and rescale */
	double plo, phi;       /* volumes are always rescaled from their plo..phi percentiles
	                        * (0 and 100 without clipping), per 3-D volume */
	int window;            /* volumes: map [level - width/2, level + width/2] to [0,1] */
	double level, width;   /* (CT windows, in HU) instead of percentiles */
	int axis;              /* slicing axis of volumes: 0 x, 1 y, 2 z */
	int orient;            /* volumes: 0 file order, 1 reoriented to RAS, 2 to LPS */
	long min_fg;           /* keep only samples whose mask has more than min_fg
	                        * foreground pixels (none without a mask); -1: keep all */
	int require_mask;      /* an image without a mask is an error */
	unsigned flags;        /* record flags, e.g. MS_FLAG_ZLIB */
	size_t max_bytes;      /* PNG: decoded pixel bytes allowed; 0: MS_PNG_MAX_BYTES */
	ms_shard shard;        /* only the samples of this shard (a PNG of another is not
	                        * read); n = 0: all */
} ms_import_opts;

typedef struct {
	ms_import_opts o;
	FILE *out;
	char prev_id[1024];    /* the last sample's id: consecutive samples must differ */
} ms_import;

/* o is copied; -1 + ms_errmsg() when o->mask_dir is set but not a directory */
int ms_import_init(ms_import *im, const ms_import_opts *o, FILE *out);
/* Writes the samples of path to im->out: a directory's image files (ms_import_list) in
 * name order, else the file itself, read as NIfTI when named .nii or .nii.gz and as
 * PNG otherwise. A PNG gives one sample with id its stem; a volume one per slice along
 * o.axis, id <stem>_s<i> (<stem>_t<t>_s<i> for 4-D), with slice=, axis= and volume=
 * metadata. Every record gets id=, source= (its file), spacing= (mm, when known,
 * scaled by the resize) and prompt=. A sample is an f32 [C,H,W] image in [0,1] and,
 * with a mask, a u8 [1,H,W] 0/1 mask (any nonzero channel is foreground).
 * 0; -1 + ms_errmsg() on error (samples before it are written); -2 when a PNG holds
 * more than o.max_bytes of pixels */
int ms_import_path(ms_import *im, const char *path);
/* the .png, .nii and .nii.gz files of dir (any case; not hidden, not directories) as
 * dir/name, sorted by strcmp; NULL + ms_errmsg() on error or when there are none */
char **ms_import_list(const char *dir, size_t *n);
/* the file name without directory and without .nii.gz or its last .ext (not a leading
 * one); NULL on allocation failure */
char *ms_import_stem(const char *path);
int ms_import_is_nifti(const char *path);   /* named .nii or .nii.gz, any case */

#endif

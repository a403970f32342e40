/* Segmentation metrics of binary masks (mask.c; ms-score(1) gives the formulas). */
#ifndef MS_MASK_H
#define MS_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "metrics/scratch.h"

/* ---- binary masks: a = prediction, b = reference, h x w bytes, nonzero = foreground */
typedef struct {
	int64_t tp, fp, fn, tn;
	double dice, iou, precision, recall, specificity, accuracy;
	double hd95, assd;   /* in units of the spacing; 0 if both empty, NAN if one is */
} ms_mask_score;

/* all metrics; sy, sx: pixel spacing (rows, columns) > 0; ws may be NULL. The boundary
 * of a mask: its foreground pixels with a 4-neighbour that is background or outside */
int ms_mask_compare(const uint8_t *a, const uint8_t *b, int h, int w, double sy, double sx,
                    ms_scratch *ws, ms_mask_score *s);
/* Dice of the masks a > ta and b > tb, n values each (1 if both are empty), for
 * validation during training where maps are thresholded on the fly */
double ms_dice_above(const float *a, float ta, const float *b, float tb, size_t n);
/* exact squared Euclidean distance from every pixel to the nearest nonzero pixel of feat
 * (INFINITY if feat is empty), spacing sy, sx (Felzenszwalb-Huttenlocher, O(hw)) */
int ms_edt_sq(const uint8_t *feat, int h, int w, double sy, double sx, double *d2);

#endif

/* Edge maps: soft gradients, Canny, mask bands, the DiffBoost condition (edges.c). */
#ifndef MS_EDGES_H
#define MS_EDGES_H

#include <stdint.h>

#include "core/tensor.h"

enum { MS_EDGES_SOFT, MS_EDGES_CANNY, MS_EDGES_MASK, MS_EDGES_DIFFBOOST };

typedef struct {
	int method;          /* MS_EDGES_* */
	double sigma;        /* Gaussian before the gradient, 0 = none */
	int scharr;          /* soft: Scharr instead of Sobel */
	double low, high;    /* canny thresholds, gradient units of 8-bit intensities */
	int l2;              /* canny: L2 magnitude instead of |dx| + |dy| */
	int near;            /* > 0: only within near pixels of the mask's border (needs a mask) */
} ms_edges_opt;

typedef struct ms_edges ms_edges;   /* workspace, reused from image to image */
const char *ms_edges_method_name(int method);
int ms_edges_method_parse(const char *s);   /* -1 if unknown */
ms_edges *ms_edges_new(const ms_edges_opt *o);
void ms_edges_free(ms_edges *e);
/* the edge map of image ([C,H,W]) and mask (label map [1,H,W] or NULL) into out (H*W) */
int ms_edges_compute(ms_edges *e, const ms_tensor *image, const ms_tensor *mask, float *out);

/* Canny on an 8-bit plane, as OpenCV's cv::Canny (3x3 Sobel with repeated borders,
 * tangent-sector non-maximum suppression, 8-connected hysteresis); out is 0/1 */
int ms_canny_u8(ms_edges *e, const uint8_t *img, int h, int w, uint8_t *out);

#endif

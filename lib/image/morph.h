/* Binary morphology with elliptic structuring elements, as OpenCV's
 * getStructuringElement(MORPH_ELLIPSE, (k, k)), dilate, erode and MORPH_OPEN with their
 * default borders (pixels outside the image take no part): RePaint's known region and the
 * opening of new masks (ms-sample --inpaint, methods.md 2). Planes are H x W bytes,
 * nonzero = set; results are 0/1. */
#ifndef MS_MORPH_H
#define MS_MORPH_H

#include <stdint.h>

/* row i of the k x k ellipse covers columns [lo[i], hi[i]); anchor (k/2, k/2):
 * r = c = k/2, dy = i - r, dx = round(c sqrt((r^2 - dy^2) / r^2)),
 * lo = max(c - dx, 0), hi = min(c + dx + 1, k); k = 1 is the single pixel */
void ms_ellipse_rows(int k, int *lo, int *hi);

/* out(y, x) = max (dilate) or min (erode) of in(y + i - k/2, x + j - k/2) over the
 * ellipse's (i, j) inside the image; k >= 1 (1: a copy); out may not alias in;
 * -1 on allocation failure */
int ms_dilate(const uint8_t *in, int H, int W, int k, uint8_t *out);
int ms_erode(const uint8_t *in, int H, int W, int k, uint8_t *out);
/* erode then dilate (MORPH_OPEN): removes specks narrower than the ellipse */
int ms_open(const uint8_t *in, int H, int W, int k, uint8_t *out);

/* a length of `px` pixels at 256 scaled to an image of side max(H, W), at least 1:
 * Saragih et al.'s 20 px dilation and 16 px opening at other sizes */
int ms_morph_scaled(int px, int H, int W);

#endif

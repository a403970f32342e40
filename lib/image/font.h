/* A tiny bitmap font for labels on pictures: printable ASCII 32..126, 5x7 pixels with one
 * more row for descenders (g, j, p, q, y, comma, underscore). */
#ifndef MS_FONT_H
#define MS_FONT_H

#include <stddef.h>
#include <stdint.h>

#define MS_FONT_WIDTH 5      /* glyph width */
#define MS_FONT_HEIGHT 8     /* glyph height: MS_FONT_ASCENT rows and 1 below them */
#define MS_FONT_ASCENT 7     /* rows from the top down to the baseline */
#define MS_FONT_ADVANCE 6    /* a glyph and one column of space */

/* The MS_FONT_HEIGHT rows of the glyph of c, top first, bit 4 the leftmost pixel;
 * the glyph of '?' for bytes outside 32..126. */
const uint8_t *ms_font_glyph(int c);
/* Pixels that n characters take: n advances less the last space, 0 for n = 0. */
int64_t ms_font_width(size_t n);
/* s cut to fit width pixels, into out (size n, always terminated): s as it is when it
 * fits, else its first characters and a '~'; only the first character when one fits,
 * "" when none does. */
void ms_font_fit(const char *s, int64_t width, char *out, size_t n);
/* Draw s with pixels of value v into a u8 plane of `stride` pixels a row, the top-left
 * corner of its first glyph at (x, y); only pixels inside the w x h box at (x, y) are
 * touched (the box must lie in the plane). Characters past the box are left out. */
void ms_font_draw(uint8_t *plane, int64_t stride, int64_t x, int64_t y, int64_t w, int64_t h,
                  const char *s, uint8_t v);

#endif

/* PNG files <-> tensors through libpng. Errors longjmp back to the function that set
 * the jump buffer; every libpng message is routed into ms_error, none is printed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "core/outfile.h"
#include "core/tensor.h"
#include "core/util.h"
#include "image/resize.h"
#include "io/png.h"

/* state shared across setjmp: lives in the caller's frame, so it is not clobbered */
struct png_io {
	png_structp png;
	png_infop info;
	FILE *f;
	const char *path;
	png_bytep buf;          /* interleaved pixels */
	png_bytepp rows;
	ms_tensor t;
	png_uint_32 w, h;       /* after read_head: size, channels (1 or 3), bit depth */
	int c, d;
	size_t rowbytes;
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct png_io *s = png_get_error_ptr(png);
	ms_error("%s: %s", s->path, msg);
	png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png, (void)msg;   /* warnings are dropped: the file still decodes */
}

/* the end of a read: libpng's state, the file and buffers released; the tensor to t
 * when ret is 0, else freed */
static void read_done(struct png_io *s, int ret, ms_tensor *t)
{
	if (s->png)
		png_destroy_read_struct(&s->png, s->info ? &s->info : NULL, NULL);
	fclose(s->f);
	free(s->buf);
	free(s->rows);
	if (ret < 0)
		ms_tensor_free(&s->t);
	else
		*t = s->t;
}

/* read through stdio with a message that says what happened */
static void on_read(png_structp png, png_bytep buf, size_t n)
{
	struct png_io *s = png_get_io_ptr(png);
	if (fread(buf, 1, n, s->f) == n)
		return;
	if (ferror(s->f))
		ms_error("%s: read error:", s->path);
	else
		ms_error("%s: truncated PNG file", s->path);
	png_longjmp(png, 1);
}

/* write through stdio with errno in the message, not libpng's "Write Error" */
static void on_write(png_structp png, png_bytep buf, size_t n)
{
	struct png_io *s = png_get_io_ptr(png);
	if (fwrite(buf, 1, n, s->f) == n)
		return;
	ms_error("cannot write %s:", s->path);
	png_longjmp(png, 1);
}

static void on_flush(png_structp png)
{
	struct png_io *s = png_get_io_ptr(png);
	if (fflush(s->f) == 0)
		return;
	ms_error("cannot write %s:", s->path);
	png_longjmp(png, 1);
}

static void phys_spacing(png_structp png, png_infop info, double sp[2])
{
	png_uint_32 px, py;
	int unit;
	sp[0] = sp[1] = 0;
	if (png_get_pHYs(png, info, &px, &py, &unit) && unit == PNG_RESOLUTION_METER && px && py) {
		sp[0] = 1000.0 / py;
		sp[1] = 1000.0 / px;
	}
}

/* planar [C,H,W] from interleaved rows; 16-bit samples are big-endian in PNG */
static void deinterleave(struct png_io *s, int c, size_t h, size_t w, int depth)
{
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			for (int k = 0; k < c; k++) {
				size_t o = ((size_t)k * h + y) * w + x, i = x * c + k;
				if (depth == 16)
					((uint16_t *)s->t.data)[o] = s->rows[y][2 * i] << 8 | s->rows[y][2 * i + 1];
				else
					((uint8_t *)s->t.data)[o] = s->rows[y][i];
			}
}

/* signature, header and conversions up to the first row; the size checked against
 * max_bytes of decoded pixels (-2 when over it) */
static int read_head(struct png_io *s, int *bits, double sp[2], size_t max_bytes)
{
	unsigned char sig[8];
	if (fread(sig, 1, 8, s->f) != 8 || png_sig_cmp(sig, 0, 8))
		return ms_error("%s: not a PNG file", s->path);
	s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
	if (!s->png || !(s->info = png_create_info_struct(s->png)))
		return ms_error("%s: out of memory", s->path);
	if (setjmp(png_jmpbuf(s->png)))
		return -1;
	png_set_user_limits(s->png, MS_PNG_MAX_DIM, MS_PNG_MAX_DIM);
	png_set_chunk_malloc_max(s->png, (png_alloc_size_t)1 << 24);
	/* a damaged chunk is an error, not a warning; colour profiles are not used and
	 * not checked (many files carry slightly wrong ones) */
	png_set_benign_errors(s->png, 0);
	png_set_keep_unknown_chunks(s->png, PNG_HANDLE_CHUNK_NEVER, (png_const_bytep) "iCCP", 1);
	png_set_read_fn(s->png, s, on_read);
	png_set_sig_bytes(s->png, 8);
	png_read_info(s->png, s->info);

	png_uint_32 w, h;
	int depth, ctype;
	png_get_IHDR(s->png, s->info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
	if (bits)
		*bits = depth;
	if (sp)
		phys_spacing(s->png, s->info, sp);
	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(s->png);
	if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(s->png);
	png_set_strip_alpha(s->png);   /* also the alpha that a palette's tRNS expands to */
	png_set_interlace_handling(s->png);
	png_read_update_info(s->png, s->info);

	int c = png_get_channels(s->png, s->info), d = png_get_bit_depth(s->png, s->info);
	size_t rowbytes = png_get_rowbytes(s->png, s->info), total;
	if ((c != 1 && c != 3) || (d != 8 && d != 16) || rowbytes != (size_t)w * c * (d / 8))
		return ms_error("%s: unexpected PNG layout after conversion", s->path);
	if (ms_mul_overflow(rowbytes, h, &total) || total > max_bytes) {
		ms_error("%s: image of %lux%lu is too large: %.0f MiB of pixels, the limit is %.0f MiB",
		         s->path, (unsigned long)w, (unsigned long)h, (double)rowbytes * h / (1 << 20),
		         (double)max_bytes / (1 << 20));
		return -2;
	}
	s->w = w, s->h = h, s->c = c, s->d = d, s->rowbytes = rowbytes;
	return 0;
}

/* the whole image, interleaved, into s->buf and s->rows */
static int read_rows(struct png_io *s)
{
	if (!(s->buf = ms_malloc(s->rowbytes * s->h)) || !(s->rows = ms_calloc(s->h, sizeof *s->rows)))
		return ms_error("%s: out of memory", s->path);
	if (setjmp(png_jmpbuf(s->png)))
		return -1;
	for (size_t y = 0; y < s->h; y++)
		s->rows[y] = s->buf + y * s->rowbytes;
	png_read_image(s->png, s->rows);
	png_read_end(s->png, NULL);
	return 0;
}

static int read_png(struct png_io *s, int *bits, double sp[2])
{
	int ret = read_head(s, bits, sp, MS_PNG_MAX_BYTES);
	if (ret < 0)
		return ret;
	int64_t shape[3] = { s->c, s->h, s->w };
	if (ms_tensor_alloc(&s->t, s->d == 16 ? MS_U16 : MS_U8, 3, shape) < 0)
		return ms_error("%s: out of memory", s->path);
	if (read_rows(s) < 0)
		return -1;
	deinterleave(s, s->c, s->h, s->w, s->d);
	return 0;
}

int ms_png_read(const char *path, ms_tensor *t, int *bits, double spacing[2])
{
	struct png_io s = { .path = path };
	if (!(s.f = fopen(path, "rb")))
		return ms_error("cannot open %s:", path);
	int ret = read_png(&s, bits, spacing);
	read_done(&s, ret, t);
	return ret < 0 ? -1 : 0;
}

/* ---- ms_png_read_scaled: rows converted and resampled as they are decoded */

/* the value of sample i of an interleaved row */
static unsigned row_at(const png_byte *row, size_t i, int d)
{
	return d == 16 ? (unsigned)row[2 * i] << 8 | row[2 * i + 1] : row[i];
}

/* the plo and phi percentiles of all samples of the held image, as ms_percentiles gives
 * them for the same values as f32 (v * scale is increasing in v, so the order
 * statistics are those of the integers): from a histogram, without a sorted copy */
static int held_percentiles(struct png_io *s, double plo, double phi, float scale,
                            float *lo, float *hi)
{
	size_t nv = s->d == 16 ? 65536 : 256, per_row = (size_t)s->w * s->c;
	size_t *hist = ms_calloc(nv, sizeof *hist), n = per_row * s->h;
	if (!hist)
		return -1;
	for (size_t y = 0; y < s->h; y++)
		for (size_t i = 0; i < per_row; i++)
			hist[row_at(s->rows[y], i, s->d)]++;
	double p[2] = { plo, phi };
	float *out[2] = { lo, hi };
	for (int j = 0; j < 2; j++) {
		/* ms_percentiles: rank r = p/100 (n-1), s[i] + (r - i)(s[i+1] - s[i]) */
		double r = p[j] / 100 * (double)(n - 1);
		size_t i = (size_t)r, seen = 0, v = 0, v1;
		if (i > n - 1)
			i = n - 1;
		while (seen + hist[v] <= i)
			seen += hist[v++];
		for (v1 = v; i + 1 < n && seen + hist[v1] <= i + 1; )
			seen += hist[v1++];
		float a = v * scale, b = v1 * scale;
		*out[j] = i >= n - 1 ? a : (float)(a + (r - (double)i) * ((double)b - a));
	}
	free(hist);
	return 0;
}

/* row r of the image: held, or decoded now (the rows come in order) */
static const png_byte *next_row(struct png_io *s, size_t r, int hold)
{
	if (hold)
		return s->rows[r];
	if (setjmp(png_jmpbuf(s->png)))
		return NULL;
	png_read_row(s->png, s->buf, NULL);
	if (r + 1 == s->h)
		png_read_end(s->png, NULL);
	return s->buf;
}

static int read_scaled(struct png_io *s, const ms_png_opts *o, int64_t size[2],
                       double sp[2], int64_t *fg)
{
	int ret = read_head(s, NULL, sp, o->max_bytes ? o->max_bytes : MS_PNG_MAX_BYTES);
	if (ret < 0)
		return ret;
	int64_t c = s->c, ih = s->h, iw = s->w, oc = o->mask ? 1 : c;
	int64_t oh = o->h ? o->h : ih, ow = o->w ? o->w : iw, resize = o->h && o->w;
	float scale = s->d == 16 ? 1.0f / 65535 : 1.0f / 255, lo = 0, hi = 0;
	size[0] = ih, size[1] = iw;
	int hold = png_get_interlace_type(s->png, s->info) != PNG_INTERLACE_NONE ||
	           (o->clip && !o->mask);
	int64_t shape[3] = { oc, oh, ow }, ny = resize ? oh : 0, nx = resize ? ow : 0;
	size_t plane = (size_t)oh * ow;
	/* source rows and columns of each output pixel, as ms_resize_bilinear/_nearest */
	int64_t *y0 = ms_calloc(ny + 1, sizeof *y0), *y1 = ms_calloc(ny + 1, sizeof *y1);
	int64_t *x0 = ms_calloc(nx + 1, sizeof *x0), *x1 = ms_calloc(nx + 1, sizeof *x1);
	float *fy = ms_calloc(ny + 1, sizeof *fy), *fx = ms_calloc(nx + 1, sizeof *fx);
	float *row = ms_calloc((size_t)c * iw, sizeof *row);
	/* bilinear: an output row's bottom source row resampled along x (its top one waits
	 * in the output) */
	float *bot = ms_calloc(nx + 1, sizeof *bot);
	ret = -1;
	if (!y0 || !y1 || !x0 || !x1 || !fy || !fx || !row || !bot ||
	    ms_tensor_alloc(&s->t, o->mask ? MS_U8 : MS_F32, 3, shape) < 0) {
		ms_error("%s: out of memory", s->path);
		goto done;
	}
	for (int64_t y = 0; y < ny; y++)
		if (o->mask)
			y0[y] = ms_near_coord(y, ih, oh);
		else
			ms_lin_coord(y, ih, oh, &y0[y], &y1[y], &fy[y]);
	for (int64_t x = 0; x < nx; x++)
		if (o->mask)
			x0[x] = ms_near_coord(x, iw, ow);
		else
			ms_lin_coord(x, iw, ow, &x0[x], &x1[x], &fx[x]);
	if (hold) {
		if (read_rows(s) < 0)
			goto done;
		if (o->clip && !o->mask && held_percentiles(s, o->plo, o->phi, scale, &lo, &hi) < 0)
			goto done;
	} else if (!(s->buf = ms_malloc(s->rowbytes))) {
		ms_error("%s: out of memory", s->path);
		goto done;
	}
	*fg = 0;
	int64_t a = 0;        /* the first output row still waiting for source rows */
	for (int64_t r = 0; r < ih; r++) {
		const png_byte *src = next_row(s, r, hold);
		if (!src)
			goto done;
		if (o->mask) {   /* 1 where any channel is nonzero, as ms-import's masks */
			unsigned char *m = (unsigned char *)row;
			for (int64_t x = 0; x < iw; x++) {
				m[x] = 0;
				for (int64_t k = 0; k < c; k++)
					m[x] |= row_at(src, x * c + k, s->d) != 0;
				*fg += m[x];
			}
			unsigned char *dst = s->t.data;
			if (!resize)
				memcpy(dst + r * iw, m, iw);
			for (; resize && a < oh && y0[a] == r; a++)
				for (int64_t x = 0; x < ow; x++)
					dst[a * ow + x] = m[x0[x]];
			continue;
		}
		/* planar f32 as ms_tensor_to_f32, clipped as ms_rescale, at full resolution */
		for (int64_t k = 0; k < c; k++)
			for (int64_t x = 0; x < iw; x++)
				row[k * iw + x] = row_at(src, x * c + k, s->d) * scale;
		if (o->clip)
			ms_rescale(row, (size_t)c * iw, lo, hi);
		if (!resize) {
			for (int64_t k = 0; k < c; k++)
				memcpy((float *)s->t.data + (k * ih + r) * iw, row + k * iw, iw * sizeof *row);
			continue;
		}
		while (a < oh && y1[a] < r)
			a++;
		for (int64_t y = a; y < oh && y0[y] <= r; y++)
			for (int64_t k = 0; k < c; k++) {
				const float *p = row + k * iw;
				float *top = (float *)s->t.data + k * plane + y * ow;
				if (y0[y] == r)
					for (int64_t x = 0; x < ow; x++)
						top[x] = p[x0[x]] + fx[x] * (p[x1[x]] - p[x0[x]]);
				if (y1[y] != r)
					continue;
				for (int64_t x = 0; x < ow; x++)
					bot[x] = p[x0[x]] + fx[x] * (p[x1[x]] - p[x0[x]]);
				for (int64_t x = 0; x < ow; x++)
					top[x] = top[x] + fy[y] * (bot[x] - top[x]);
			}
	}
	ret = 0;
done:
	free(y0), free(y1), free(x0), free(x1), free(fy), free(fx), free(row), free(bot);
	return ret;
}

int ms_png_read_scaled(const char *path, const ms_png_opts *o, ms_tensor *t, int64_t size[2],
                       double spacing[2], int64_t *fg)
{
	struct png_io s = { .path = path };
	int64_t n;
	if (!(s.f = fopen(path, "rb")))
		return ms_error("cannot open %s:", path);
	int ret = read_scaled(&s, o, size, spacing, fg ? fg : &n);
	read_done(&s, ret, t);
	return ret;
}

static int write_png(struct png_io *s, const ms_tensor *t, const double *sp)
{
	int c = t->rank == 3 ? (int)t->shape[0] : 1, depth = t->dtype == MS_U16 ? 16 : 8;
	size_t h = t->shape[t->rank - 2], w = t->shape[t->rank - 1];
	size_t rowbytes = w * c * (depth / 8);
	s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
	if (!s->png || !(s->info = png_create_info_struct(s->png)))
		return ms_error("%s: out of memory", s->path);
	if (setjmp(png_jmpbuf(s->png)))
		return -1;
	png_set_write_fn(s->png, s, on_write, on_flush);
	png_set_IHDR(s->png, s->info, (png_uint_32)w, (png_uint_32)h, depth,
	             c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (sp && sp[0] > 0 && sp[1] > 0)
		png_set_pHYs(s->png, s->info, (png_uint_32)lround(1000 / sp[1]),
		             (png_uint_32)lround(1000 / sp[0]), PNG_RESOLUTION_METER);
	png_write_info(s->png, s->info);
	if (!(s->buf = ms_malloc(rowbytes)))
		return ms_error("%s: out of memory", s->path);
	for (size_t y = 0; y < h; y++) {
		for (size_t x = 0; x < w; x++)
			for (int k = 0; k < c; k++) {
				size_t i = ((size_t)k * h + y) * w + x, o = x * c + k;
				if (depth == 16) {
					uint16_t v = ((const uint16_t *)t->data)[i];
					s->buf[2 * o] = v >> 8;
					s->buf[2 * o + 1] = v & 0xff;
				} else {
					s->buf[o] = ((const uint8_t *)t->data)[i];
				}
			}
		png_write_row(s->png, s->buf);
	}
	png_write_end(s->png, NULL);
	return 0;
}

int ms_png_write(const char *path, const ms_tensor *t, const double *spacing)
{
	if (t->dtype != MS_U8 && t->dtype != MS_U16)
		return ms_error("%s: PNG needs u8 or u16 data, not %s", path, ms_dtype_name(t->dtype));
	if (t->rank != 2 && t->rank != 3)
		return ms_error("%s: PNG needs rank 2 or 3, not %d", path, t->rank);
	if (t->rank == 3 && t->shape[0] != 1 && t->shape[0] != 3)
		return ms_error("%s: PNG needs 1 or 3 channels, not %lld", path,
		                (long long)t->shape[0]);
	for (int i = t->rank - 2; i < t->rank; i++)
		if (t->shape[i] < 1 || t->shape[i] > 0x7fffffff)
			return ms_error("%s: image size out of range for PNG", path);
	ms_outfile o;
	if (ms_outfile_open(&o, path) < 0)
		return -1;
	struct png_io s = { .path = path, .f = o.f };
	int ret = write_png(&s, t, spacing);
	if (s.png)
		png_destroy_write_struct(&s.png, s.info ? &s.info : NULL);
	free(s.buf);
	if (ret < 0)
		ms_outfile_abort(&o);
	else
		ret = ms_outfile_commit(&o);
	return ret;
}

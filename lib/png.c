/* PNG files <-> tensors through libpng. Errors longjmp back to the function that set
 * the jump buffer; every libpng message is routed into ms_error, none is printed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "io.h"

/* state shared across setjmp: lives in the caller's frame, so it is not clobbered */
struct png_io {
	png_structp png;
	png_infop info;
	FILE *f;
	const char *path;
	png_bytep buf;          /* interleaved pixels */
	png_bytepp rows;
	ms_tensor t;
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

static int read_png(struct png_io *s, int *bits, double sp[2])
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
	if (ms_mul_overflow(rowbytes, h, &total) || total > MS_PNG_MAX_BYTES)
		return ms_error("%s: image of %lux%lu is too large", s->path, (unsigned long)w,
		                (unsigned long)h);
	int64_t shape[3] = { c, h, w };
	if (!(s->buf = ms_malloc(total)) || !(s->rows = ms_calloc(h, sizeof *s->rows)) ||
	    ms_tensor_alloc(&s->t, d == 16 ? MS_U16 : MS_U8, 3, shape) < 0)
		return ms_error("%s: out of memory", s->path);
	for (size_t y = 0; y < h; y++)
		s->rows[y] = s->buf + y * rowbytes;
	png_read_image(s->png, s->rows);
	png_read_end(s->png, NULL);
	deinterleave(s, c, h, w, d);
	return 0;
}

int ms_png_read(const char *path, ms_tensor *t, int *bits, double spacing[2])
{
	struct png_io s = { .path = path };
	if (!(s.f = fopen(path, "rb")))
		return ms_error("cannot open %s:", path);
	int ret = read_png(&s, bits, spacing);
	if (s.png)
		png_destroy_read_struct(&s.png, s.info ? &s.info : NULL, NULL);
	fclose(s.f);
	free(s.buf);
	free(s.rows);
	if (ret < 0)
		ms_tensor_free(&s.t);
	else
		*t = s.t;
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

/* The label font: glyph table, fitting text to a width, drawing clipped to a box. */
#include <string.h>

#include "image/font.h"
#include "test.h"

enum { W = 40, H = 16 };                 /* a test canvas */

/* pixels of glyph c as rows of '#' and '.' */
static void glyph_art(int c, char art[MS_FONT_HEIGHT][MS_FONT_WIDTH + 1])
{
	const uint8_t *g = ms_font_glyph(c);
	for (int y = 0; y < MS_FONT_HEIGHT; y++) {
		for (int x = 0; x < MS_FONT_WIDTH; x++)
			art[y][x] = g[y] >> (MS_FONT_WIDTH - 1 - x) & 1 ? '#' : '.';
		art[y][MS_FONT_WIDTH] = '\0';
	}
}

static void test_glyphs(void)
{
	static const char *const a[MS_FONT_HEIGHT] = {
		".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", ".....",
	};
	static const char *const g[MS_FONT_HEIGHT] = {
		".....", ".....", ".####", "#...#", "#...#", ".####", "....#", ".###.",
	};
	char art[MS_FONT_HEIGHT][MS_FONT_WIDTH + 1];
	glyph_art('A', art);
	for (int y = 0; y < MS_FONT_HEIGHT; y++)
		CHECK(!strcmp(art[y], a[y]));
	glyph_art('g', art);
	for (int y = 0; y < MS_FONT_HEIGHT; y++)
		CHECK(!strcmp(art[y], g[y]));

	int blank = 0, wide = 0, descend = 0, same = 0;
	for (int c = 32; c <= 126; c++) {
		const uint8_t *p = ms_font_glyph(c);
		int on = 0;
		for (int y = 0; y < MS_FONT_HEIGHT; y++) {
			on += p[y] != 0;
			wide += p[y] >> MS_FONT_WIDTH != 0;
		}
		blank += !on;
		/* only these reach below the baseline */
		descend += p[MS_FONT_HEIGHT - 1] && !strchr(",_gjpqy", c);
		for (int d = 32; d < c; d++)
			same += !memcmp(p, ms_font_glyph(d), MS_FONT_HEIGHT);
	}
	CHECK(blank == 1);                   /* the space alone */
	CHECK(!ms_font_glyph(' ')[3]);
	CHECK(wide == 0);
	CHECK(descend == 0);
	CHECK(same == 0);                    /* 95 different glyphs */
	/* bytes outside printable ASCII are drawn as '?' */
	const int odd[] = { 0, 9, 31, 127, 128, 255, -1 };
	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
		CHECK(ms_font_glyph(odd[i]) == ms_font_glyph('?'));
	CHECK(ms_font_glyph('~') != ms_font_glyph('?'));
}

static void test_fit(void)
{
	static const struct {
		const char *s;
		int64_t width;
		const char *want;
	} cases[] = {
		{ "mask", 23, "mask" },          /* 4 characters: 4 * 6 - 1 pixels */
		{ "mask", 100, "mask" },
		{ "mask", 22, "ma~" },
		{ "image", 11, "i~" },
		{ "image", 10, "i" },            /* room for one: the first, no '~' */
		{ "image", 5, "i" },
		{ "image", 4, "" },              /* room for none */
		{ "image", 0, "" },
		{ "image", -7, "" },
		{ "", 0, "" },
		{ "", 50, "" },
		{ "benign_3.s0", 95, "benign_3.s0" },
		{ "malignant_153.s12", 95, "malignant_153.s~" },
	};
	char out[64];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		ms_font_fit(cases[i].s, cases[i].width, out, sizeof out);
		CHECK(!strcmp(out, cases[i].want));
		CHECK(ms_font_width(strlen(out)) <= (cases[i].width > 0 ? cases[i].width : 0));
	}
	CHECK(ms_font_width(0) == 0 && ms_font_width(1) == 5 && ms_font_width(16) == 95);
	/* a short buffer: cut there, always terminated */
	ms_font_fit("abcdef", 1000, out, 4);
	CHECK(!strcmp(out, "abc"));
	ms_font_fit("abcdef", 23, out, 3);
	CHECK(!strcmp(out, "ab"));
	out[0] = 'x';
	ms_font_fit("abcdef", 1000, out, 0);  /* no room at all: nothing written */
	CHECK(out[0] == 'x');
}

/* the set pixels of canvas c, all inside the w x h box at (x, y) */
static int inside(const uint8_t *c, int x, int y, int w, int h)
{
	for (int i = 0; i < H; i++)
		for (int j = 0; j < W; j++)
			if (c[i * W + j] && (j < x || j >= x + w || i < y || i >= y + h))
				return 0;
	return 1;
}

static int count(const uint8_t *c, uint8_t v)
{
	int n = 0;
	for (int i = 0; i < W * H; i++)
		n += c[i] == v;
	return n;
}

static void test_draw(void)
{
	uint8_t c[H * W], ref[H * W];
	char art[MS_FONT_HEIGHT][MS_FONT_WIDTH + 1];

	/* "A" at (3, 2) in a large box: exactly its glyph, in the value asked for */
	memset(c, 0, sizeof c);
	ms_font_draw(c, W, 3, 2, 30, 12, "A", 200);
	glyph_art('A', art);
	int ok = 1;
	for (int i = 0; i < H; i++)
		for (int j = 0; j < W; j++) {
			int y = i - 2, x = j - 3;
			int on = y >= 0 && y < MS_FONT_HEIGHT && x >= 0 && x < MS_FONT_WIDTH &&
			         art[y][x] == '#';
			ok &= c[i * W + j] == (on ? 200 : 0);
		}
	CHECK(ok);
	CHECK(count(c, 200) == 18);

	/* the second glyph one advance to the right; the space column left alone */
	memset(c, 0, sizeof c);
	ms_font_draw(c, W, 0, 0, W, H, "AA", 1);
	ok = 1;
	for (int i = 0; i < MS_FONT_HEIGHT; i++) {
		ok &= !memcmp(c + i * W, c + i * W + MS_FONT_ADVANCE, MS_FONT_WIDTH);
		ok &= c[i * W + MS_FONT_WIDTH] == 0;
	}
	CHECK(ok && count(c, 1) == 36);

	/* clipped to the box: a narrow box cuts the second glyph, a low one the rows */
	memset(c, 0, sizeof c);
	ms_font_draw(c, W, 4, 1, 8, H - 1, "MW", 9);
	CHECK(inside(c, 4, 1, 8, H - 1));
	CHECK(c[1 * W + 4 + MS_FONT_ADVANCE] == 9);   /* W's top-left pixel is drawn */
	memset(c, 0, sizeof c);
	ms_font_draw(c, W, 0, 5, W, 3, "HHHH", 9);
	CHECK(inside(c, 0, 5, W, 3));
	CHECK(count(c, 9) == 4 * 3 * 2);             /* H: two pixels a row */
	memset(c, 0, sizeof c);
	ms_font_draw(c, W, 0, 5, 0, H - 5, "HHHH", 9);
	ms_font_draw(c, W, 0, 5, W, 0, "HHHH", 9);
	ms_font_draw(c, W, 0, 5, W, H - 5, "", 9);
	ms_font_draw(c, W, 0, 5, W, H - 5, "    ", 9);
	CHECK(count(c, 0) == W * H);

	/* bytes outside 32..126 look like '?' */
	memset(c, 0, sizeof c);
	memset(ref, 0, sizeof ref);
	ms_font_draw(c, W, 1, 1, W - 1, H - 1, "\x80\t", 7);
	ms_font_draw(ref, W, 1, 1, W - 1, H - 1, "??", 7);
	CHECK(!memcmp(c, ref, sizeof c));

	/* fit, then draw: never outside the box, whatever the width */
	const char *s = "malignant_153.s0 {all printable: ~!@#$%^&*()}";
	for (int w = 0; w <= W - 2; w++) {
		char fit[64];
		memset(c, 0, sizeof c);
		ms_font_fit(s, w, fit, sizeof fit);
		ms_font_draw(c, W, 2, 3, w, MS_FONT_HEIGHT, fit, 255);
		CHECK(inside(c, 2, 3, w, MS_FONT_HEIGHT));
		CHECK(w < MS_FONT_WIDTH ? count(c, 255) == 0 : count(c, 255) > 0);
	}
}

int main(void)
{
	RUN(test_glyphs);
	RUN(test_fit);
	RUN(test_draw);
	return test_summary("font");
}

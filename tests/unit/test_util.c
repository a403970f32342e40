/* core/util: messages too long for the buffer are cut whole-character (valid UTF-8) and
 * keep their start; the reason of a failed call can be wrapped; a plan's buffers
 * (ms_floats) are zeroed, aligned and freed. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/util.h"
#include "test.h"

/* 1 when s is well-formed UTF-8 (no cut sequence) */
static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		        (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0)
			return 0;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static void test_long_messages(void)
{
	static char big[5000], b[5000];
	memset(big, 'a', sizeof big - 1);
	ms_error("%s", big);
	size_t max = strlen(ms_errmsg());
	CHECK(max >= 1023 && max < sizeof big - 1);
	CHECK(ms_errmsg()[0] == 'a');
	/* 2-, 3- and 4-byte characters straddling the limit at every offset */
	for (int off = (int)max - 12; off <= (int)max; off++) {
		memset(b, 'a', sizeof b - 1);
		b[sizeof b - 1] = '\0';
		memcpy(b + off, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
		ms_error("%s", b);
		size_t l = strlen(ms_errmsg());
		CHECK(l <= max && l + 4 > max && utf8_ok(ms_errmsg()));
	}
	/* a short one after a long one is whole */
	ms_error("sample '%s': %d", "x", 3);
	CHECK(!strcmp(ms_errmsg(), "sample 'x': 3"));
	errno = ENOENT;
	ms_error("cannot open %s", "f");
	ms_error("wrapped: %s", ms_errmsg());
	CHECK(!strcmp(ms_errmsg(), "wrapped: cannot open f"));
}

/* small buffers on a cache line, large ones on 2 MiB, all zero and writable to their
 * end; ms_free_floats frees them (the sanitizers of `make check` see a bad free or a
 * leak) and clears the pointers; a size that overflows is an error */
static void test_floats(void)
{
	size_t n[] = { 0, 1, 3, 17, 1000, (2 << 20) / 4 - 1, (2 << 20) / 4, 3 << 20 };
	float *p[8];
	float **pp[8];
	for (int i = 0; i < 8; i++) {
		p[i] = ms_floats(n[i]);
		pp[i] = &p[i];
		CHECK(p[i] != NULL);
		uintptr_t al = n[i] * sizeof(float) >= (2u << 20) ? 2u << 20 : 64;
		CHECK((uintptr_t)p[i] % al == 0);
		int zero = 1;
		for (size_t k = 0; k < n[i]; k++)
			zero &= p[i][k] == 0;
		CHECK(zero);
		if (n[i])
			p[i][n[i] - 1] = 1;
	}
	ms_free_floats(pp, 8);
	for (int i = 0; i < 8; i++)
		CHECK(p[i] == NULL);
	ms_free_floats(pp, 8);                  /* NULL again: nothing */
	CHECK(ms_floats(SIZE_MAX / 2) == NULL && strstr(ms_errmsg(), "overflows"));
}

int main(void)
{
	RUN(test_long_messages);
	RUN(test_floats);
	return test_summary("test_util");
}

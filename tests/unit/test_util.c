/* core/util: messages too long for the buffer are cut whole-character (valid UTF-8) and
 * keep their start; the reason of a failed call can be wrapped. */
#include <errno.h>
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

int main(void)
{
	RUN(test_long_messages);
	return test_summary("test_util");
}

/* The option table (core/opt.h): values, ranges, choices, modes, errors, --help. */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "test.h"

enum { TRAIN = 1, RUN_ = 2 };
static long steps = 7;
static double lr = 0.5;
static long big;
static int flag, loss, wh[2];
static const char *model;
static int calls;
static const char *const losses[] = { "bce", "focal", NULL };

static int odd(const char *s)
{
	calls++;
	if (strlen(s) % 2 == 0)
		return ms_error("'%s' has an even length", s);
	return 0;
}

static ms_opt opts[] = {
	MS_OPT_STR("model", 'm', &model, "MODEL", "the model"),
	MS_OPT_INT("steps", 0, &steps, 1, 100, "N", "steps (7)"),
	MS_OPT_FLAG("flag", 'f', &flag, "a flag"),
	MS_OPT_CALL("odd", 0, odd, "S", "a string of odd length"),
	MS_OPT_INT("big", 0, &big, 0, LONG_MAX, "N", "up to LONG_MAX (2^63 as a double)"),
	MS_OPT_GROUP("training", "train", TRAIN),
	MS_OPT_NUM("lr", 0, &lr, 0, 1, "X", "learning rate\nsecond line"),
	MS_OPT_CHOICE("loss", 0, &loss, losses, "flip loss"),
	MS_OPT_SIZE("size", 0, wh, "size"),
	MS_OPT_END
};

/* scan a NULL-terminated argument list with fresh counts */
static int scan(unsigned mode, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "test";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	for (ms_opt *o = opts; o->type != MS_OPT_T_END; o++)
		o->given = 0;
	return ms_opt_scan(opts, mode, argc, argv);
}

static void test_values(void)
{
	const char *a[] = { "--steps", "12", "-f", "--lr=0.25", "--loss", "focal", "-mX",
	                    "--size", "32x16", "file", NULL };
	CHECK(scan(TRAIN, a) == 10);
	CHECK(steps == 12 && flag == 1 && lr == 0.25 && loss == 1 && !strcmp(model, "X"));
	CHECK(wh[0] == 32 && wh[1] == 16);
	CHECK(ms_opt_given(opts, "steps") == 1 && ms_opt_given(opts, "odd") == 0);
	CHECK(ms_opt_find(opts, "loss") == &opts[7] && !ms_opt_find(opts, "training"));
	const char *b[] = { "--steps", "3", "--steps", "4", NULL };
	CHECK(scan(TRAIN, b) == 5 && steps == 4 && ms_opt_given(opts, "steps") == 2);
	const char *d[] = { "--big", "9223372036854775807", NULL }, *e[] = { "--big", "-1", NULL };
	CHECK(scan(TRAIN, d) == 3 && big == LONG_MAX);
	CHECK(scan(TRAIN, e) == -1 && strstr(ms_errmsg(), "[0, 9223372036854775807]"));
	const char *c[] = { "--odd", "abc", "--odd", "x", NULL };
	calls = 0;
	CHECK(scan(TRAIN, c) == 5 && calls == 2);
}

static void test_errors(void)
{
	const struct { const char *args[4]; const char *msg; } t[] = {
		{ { "--steps", "0" }, "--steps: '0' is not an integer in [1, 100]" },
		{ { "--steps", "x" }, "--steps: 'x' is not an integer in [1, 100]" },
		{ { "--lr", "2" }, "--lr: " },
		{ { "--loss", "l2" }, "--loss: unknown value 'l2' (bce, focal)" },
		{ { "--size", "3" }, "--size: " },
		{ { "--odd", "ab" }, "--odd: 'ab' has an even length" },
		{ { "--nope" }, "unknown option '--nope'" },
		{ { "--nope=3" }, "unknown option '--nope'" },
		{ { "-q" }, "unknown option '-q'" },
		{ { "--steps" }, "option '--steps' needs a value" },
		{ { "-m" }, "option '-m' needs a value" },
		{ { "--flag=1" }, "option '--flag' takes no value" },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		int r = scan(TRAIN, t[i].args);
		CHECK(r == -1);
		if (strncmp(ms_errmsg(), t[i].msg, strlen(t[i].msg))) {
			fprintf(stderr, "case %zu: '%s', not '%s...'\n", i, ms_errmsg(), t[i].msg);
			CHECK(0);
		}
	}
	const char *h[] = { "--steps", "3", "--help", NULL };
	CHECK(scan(TRAIN, h) == MS_OPT_HELP);
}

static void test_modes(void)
{
	const char *a[] = { "--lr", "0.1", NULL }, *b[] = { "--steps", "5", NULL };
	CHECK(scan(RUN_, a) == -1 && !strcmp(ms_errmsg(), "--lr is for train"));
	CHECK(scan(RUN_, b) == 3);
	CHECK(scan(TRAIN, a) == 3);
}

static void test_help(void)
{
	char buf[4096] = "";
	FILE *f = tmpfile();
	int fd = dup(1);
	fflush(stdout);
	dup2(fileno(f), 1);
	ms_opt_help(opts, "[options] FILE", "About it.");
	fflush(stdout);
	dup2(fd, 1);
	close(fd);
	rewind(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	CHECK(strstr(buf, "usage: ") == buf && strstr(buf, " [options] FILE\nAbout it.\n"));
	CHECK(strstr(buf, "\n  -m, --model MODEL   the model\n"));
	CHECK(strstr(buf, "\n  --steps N           steps (7)\n"));
	CHECK(strstr(buf, "\n  -f, --flag          a flag\n"));
	CHECK(strstr(buf, "\ntraining:\n"));
	CHECK(strstr(buf, "\n  --lr X              learning rate\n"
	                  "                      second line\n"));
	CHECK(strstr(buf, "\n  --loss bce|focal    flip loss\n"));
	CHECK(strstr(buf, "\n  --size WxH          size\n"));
}

int main(void)
{
	RUN(test_values);
	RUN(test_errors);
	RUN(test_modes);
	RUN(test_help);
	return test_summary("test_opt");
}

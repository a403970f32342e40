/* ms-info: one line per record: id, name, dtype, shape, min/max/mean, metadata. */
#include <math.h>
#include <string.h>

#include "core/ms.h"
#include "io/stream.h"

static const char usage[] = "[-H] [FILE...]";

static void stats(const ms_tensor *t, double *mn, double *mx, double *mean)
{
	int64_t n = ms_tensor_numel(t);
	double lo = INFINITY, hi = -INFINITY, sum = 0;
	for (int64_t i = 0; i < n; i++) {
		double v;
		switch (t->dtype) {
		case MS_U8: v = ((uint8_t *)t->data)[i]; break;
		case MS_U16: v = ((uint16_t *)t->data)[i]; break;
		case MS_I32: v = ((int32_t *)t->data)[i]; break;
		default: v = ((float *)t->data)[i]; break;
		}
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		sum += v;
	}
	*mn = n ? lo : NAN;
	*mx = n ? hi : NAN;
	*mean = n ? sum / n : NAN;
}

static int info(FILE *in, const char *fname)
{
	ms_rec r;
	char id[256];
	int ret;
	ms_rec_init(&r);
	while ((ret = ms_rec_read(in, &r)) == 1) {
		double mn, mx, mean;
		stats(&r.t, &mn, &mx, &mean);
		printf("%s\t%s\t%s\t", *ms_rec_id(&r, id, sizeof id) ? id : "-", r.name,
		       ms_dtype_name(r.t.dtype));
		for (int i = 0; i < r.t.rank; i++)
			printf("%s%lld", i ? "x" : "", (long long)r.t.shape[i]);
		printf("%s\t%.6g\t%.6g\t%.6g\t", r.t.rank ? "" : "scalar", mn, mx, mean);
		int first = 1;
		for (const char *p = r.meta; p && *p; p++) {
			if (*p == '\n') {
				first = 1;
				continue;
			}
			if (first && p != r.meta)
				putchar(' ');
			first = 0;
			putchar(*p);
		}
		putchar('\n');
	}
	if (ret < 0)
		warn("%s: %s", fname, ms_errmsg());
	ms_rec_free(&r);
	return ret < 0;
}

int main(int argc, char **argv)
{
	static const char about[] =
		"Print one line per record of each stream (stdin if no FILE, or FILE -):\n"
		"id, name, dtype, shape, min, max, mean, metadata; tab-separated.";
	static int header;
	static ms_opt opts[] = {
		MS_OPT_FLAG(NULL, 'H', &header, "print a header line first"),
		MS_OPT_END
	};
	ms_setprog(argv);
	int bad = 0, first = ms_opt_parse(opts, usage, about, 0, argc, argv);
	if (header)
		puts("id\tname\tdtype\tshape\tmin\tmax\tmean\tmeta");
	if (first == argc)
		bad |= info(stdin, "<stdin>");
	for (int i = first; i < argc; i++) {
		int in = !strcmp(argv[i], "-");
		FILE *f = in ? stdin : fopen(argv[i], "rb");
		if (!f) {
			warn("cannot open %s:", argv[i]);
			bad = 1;
			continue;
		}
		bad |= info(f, in ? "<stdin>" : argv[i]);
		if (!in)
			fclose(f);
	}
	return fshut(stdout, "<stdout>") | bad;
}

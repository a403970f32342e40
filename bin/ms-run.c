/* ms-run: run a YAML pipeline of ms tools (ms-pipeline(5)) without a shell. */
#include <getopt.h>
#include <stdlib.h>

#include "core/ms.h"
#include "pipeline/pipeline.h"

static const char usage[] =
	"[-nv] [--set VAR=VALUE]... [--swap STAGE=COMMAND]... [--only STAGE[,STAGE]...] FILE";

/* kept in static storage so that die() leaves nothing allocated unreachable */
static char **sets, **swaps, **onlys;
static ms_pipeline *p;

static void cleanup(void)
{
	ms_pipeline_free(p);
	free(sets);
	free(swaps);
	free(onlys);
}

/* a command-line edit that does not fit the file: usage error */
static void edit_die(void)
{
	warn("%s", ms_errmsg());
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "set", required_argument, 0, 's' },
		{ "swap", required_argument, 0, 'w' },
		{ "only", required_argument, 0, 'o' },
		{ "dry-run", no_argument, 0, 'n' },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{ 0 }
	};
	int c, nset = 0, nswap = 0, nonly = 0, dry = 0, verbose = 0;
	ms_setprog(argv);
	sets = ecalloc((size_t)argc, sizeof *sets);
	swaps = ecalloc((size_t)argc, sizeof *swaps);
	onlys = ecalloc((size_t)argc, sizeof *onlys);
	while ((c = getopt_long(argc, argv, "nv", opts, NULL)) != -1) {
		switch (c) {
		case 's': sets[nset++] = optarg; break;
		case 'w': swaps[nswap++] = optarg; break;
		case 'o': onlys[nonly++] = optarg; break;
		case 'n': dry = 1; break;
		case 'v': verbose = 1; break;
		case 'h':
			printf("usage: %s %s\n"
			       "Run the stages of a pipeline file, piped as the file says.\n"
			       "  --set VAR=VALUE        set a variable of the file\n"
			       "  --swap STAGE=COMMAND   run COMMAND in place of a stage's run\n"
			       "  --only STAGE,...       run only these stages\n"
			       "  -n, --dry-run          print the equivalent sh commands, run nothing\n"
			       "  -v, --verbose          print each chain on stderr before it starts\n",
			       argv0, usage);
			return 0;
		default: usage_die(usage);
		}
	}
	if (optind != argc - 1)
		usage_die(usage);
	p = ms_pipeline_load(argv[optind]);
	if (!p)
		die("%s", ms_errmsg());
	for (int i = 0; i < nset; i++)
		if (ms_pipeline_set(p, sets[i]) < 0)
			edit_die();
	for (int i = 0; i < nswap; i++)
		if (ms_pipeline_swap(p, swaps[i]) < 0)
			edit_die();
	for (int i = 0; i < nonly; i++)
		if (ms_pipeline_only(p, onlys[i]) < 0)
			edit_die();
	if (ms_pipeline_plan(p, !dry) < 0)
		die("%s", ms_errmsg());
	if (dry) {
		if (ms_pipeline_print(p, stdout) < 0)
			die("%s", ms_errmsg());
	} else if (ms_pipeline_run(p, verbose ? stderr : NULL) < 0) {
		int sig = p->interrupted;
		if (!sig)
			die("%s", ms_errmsg());
		warn("%s", ms_errmsg());
		cleanup();
		return 128 + sig;
	}
	cleanup();
	return fshut(stdout, "<stdout>");
}

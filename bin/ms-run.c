/* ms-run: run a YAML pipeline of ms tools (ms-pipeline(5)) without a shell. */
#include <stdlib.h>

#include "core/ms.h"
#include "pipeline/pipeline.h"

static const char usage[] =
	"[-nv] [--set VAR=VALUE]... [--swap STAGE=COMMAND]... [--only STAGE[,STAGE]...] FILE";

/* kept in static storage so that die() leaves nothing allocated unreachable */
static const char **sets, **swaps, **onlys;
static int nset, nswap, nonly, dry, verbose;
static ms_pipeline *p;

/* --set, --swap, --only: kept in the order given, applied after the file is loaded */
static int set(const char *s) { sets[nset++] = s; return 0; }
static int swap(const char *s) { swaps[nswap++] = s; return 0; }
static int only(const char *s) { onlys[nonly++] = s; return 0; }

static ms_opt opts[] = {
	MS_OPT_CALL("set", 0, set, "VAR=VALUE", "set a variable of the file"),
	MS_OPT_CALL("swap", 0, swap, "STAGE=COMMAND", "run COMMAND in place of a stage's run"),
	MS_OPT_CALL("only", 0, only, "STAGE,...", "run only these stages"),
	MS_OPT_FLAG("dry-run", 'n', &dry, "print the equivalent sh commands, run nothing"),
	MS_OPT_FLAG("verbose", 'v', &verbose, "print each chain on stderr before it starts"),
	MS_OPT_END
};

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
	ms_setprog(argv);
	sets = ecalloc((size_t)argc, sizeof *sets);
	swaps = ecalloc((size_t)argc, sizeof *swaps);
	onlys = ecalloc((size_t)argc, sizeof *onlys);
	int i = ms_opt_parse(opts, usage, "Run the stages of a pipeline file, piped as the file says.",
	                     0, argc, argv);
	if (i != argc - 1)
		usage_die(usage);
	p = ms_pipeline_load(argv[i]);
	if (!p)
		die("%s", ms_errmsg());
	for (i = 0; i < nset; i++)
		if (ms_pipeline_set(p, sets[i]) < 0)
			edit_die();
	for (i = 0; i < nswap; i++)
		if (ms_pipeline_swap(p, swaps[i]) < 0)
			edit_die();
	for (i = 0; i < nonly; i++)
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

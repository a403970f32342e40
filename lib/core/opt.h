/* Command-line options from one declarative table (after git's parse-options): each
 * entry gives the option's names, type, range or choices, where its value goes and its
 * help line. The table drives getopt_long, the checks and their messages (worded the same
 * in every tool) and --help. Group entries title the help's sections and say in which
 * modes (a tool's subcommands, e.g. "train") their options may be given.
 *
 *	static long steps = 2000;
 *	static ms_opt opts[] = {
 *		MS_OPT_INT("steps", 0, &steps, 1, 1e8, "N", "training steps (2000)"),
 *		MS_OPT_GROUP("training", "train", MODE_TRAIN),
 *		MS_OPT_CHOICE("loss", 0, &loss, losses, "flip loss (bce)"),
 *		MS_OPT_END
 *	};
 *	int i = ms_opt_parse(opts, usage, about, mode, argc, argv);   (argv[i..] remain)
 */
#ifndef MS_OPT_H
#define MS_OPT_H

enum { MS_OPT_T_END, MS_OPT_T_GROUP, MS_OPT_T_FLAG, MS_OPT_T_INT, MS_OPT_T_NUM,
       MS_OPT_T_STR, MS_OPT_T_CHOICE, MS_OPT_T_SIZE, MS_OPT_T_CALL, MS_OPT_T_SHARD };

typedef struct ms_opt {
	const char *name;             /* long name without "--", or NULL; group: its title */
	int key;                      /* short option letter, or 0 */
	int type;
	void *value;                  /* FLAG int (set to 1), INT long, NUM double, STR const
	                               * char *, CHOICE int (index), SIZE int[2] (W, H),
	                               * SHARD ms_shard (core/rng.h); may be NULL for FLAG */
	const char *arg;              /* the value's name in --help; group: the mode's name
	                               * in "--x is for <arg>" */
	const char *help;             /* one line; "\n" continues it on the next */
	double lo, hi;                /* INT and NUM: the accepted range */
	const char *const *choices;   /* CHOICE: NULL-terminated names */
	int (*call)(const char *arg); /* CALL: -1 with ms_error on a bad value */
	unsigned modes;               /* group: modes whose options follow (0: every mode) */
	int given;                    /* set by parsing: how many times it was given */
} ms_opt;

#define MS_OPT_END { 0 }
#define MS_OPT_GROUP(title, mode, modes) \
	{ title, 0, MS_OPT_T_GROUP, 0, mode, 0, 0, 0, 0, 0, modes, 0 }
#define MS_OPT_FLAG(l, s, v, h) { l, s, MS_OPT_T_FLAG, v, 0, h, 0, 0, 0, 0, 0, 0 }
#define MS_OPT_INT(l, s, v, lo, hi, a, h) { l, s, MS_OPT_T_INT, v, a, h, lo, hi, 0, 0, 0, 0 }
#define MS_OPT_NUM(l, s, v, lo, hi, a, h) { l, s, MS_OPT_T_NUM, v, a, h, lo, hi, 0, 0, 0, 0 }
#define MS_OPT_STR(l, s, v, a, h) { l, s, MS_OPT_T_STR, v, a, h, 0, 0, 0, 0, 0, 0 }
#define MS_OPT_CHOICE(l, s, v, ch, h) { l, s, MS_OPT_T_CHOICE, v, 0, h, 0, 0, ch, 0, 0, 0 }
#define MS_OPT_SIZE(l, s, v, h) { l, s, MS_OPT_T_SIZE, v, "WxH", h, 0, 0, 0, 0, 0, 0 }
#define MS_OPT_CALL(l, s, fn, a, h) { l, s, MS_OPT_T_CALL, 0, a, h, 0, 0, 0, fn, 0, 0 }
/* --shard K/N, the same in every tool that has it */
#define MS_OPT_SHARD(v) { "shard", 0, MS_OPT_T_SHARD, v, "K/N", \
	"only the samples whose id hashes to shard K of N\n(1 <= K <= N; ms-scale(7))", 0, 0, 0, 0, 0, 0 }
/* --seed S, an integer in [0, 2^62] in every tool that has it (long *v) */
#define MS_OPT_SEED(s, v, h) MS_OPT_INT("seed", s, v, 0, 0x1p62, "S", h)
/* --parts P of data-parallel training (models/train.h's ms_grads; long *v, 0: unset) */
#define MS_OPT_PARTS(v) MS_OPT_INT("parts", 0, v, 1, 4096, "P", \
	"the batch's gradient as the sum of P parts in order\n(default: one per MPI rank; ms-scale(7))")

enum { MS_OPT_HELP = -2 };

/* the library's part: parses argv[1..] by the table in mode (a bit of the groups'
 * modes); returns the index of the first operand, MS_OPT_HELP for --help, or -1 with
 * the reason (ms_errmsg), e.g. "--steps: not an integer: 'x'", "unknown option '--x'",
 * "--lambda is for train". Options may repeat (the last value wins; CALL sees each). */
int ms_opt_scan(ms_opt *opts, unsigned mode, int argc, char **argv);
/* --help's text: "usage: <argv0> <usage>", the about text, then one line per option */
void ms_opt_help(const ms_opt *opts, const char *usage, const char *about);
/* sets option name from text as if given, with its checks, but not counted as given
 * (a default from elsewhere, e.g. a checkpoint); -1 if unknown or refused */
int ms_opt_set(ms_opt *opts, const char *name, const char *text);
/* the entry of a long name (NULL if none) and whether it was given */
ms_opt *ms_opt_find(ms_opt *opts, const char *name);
int ms_opt_given(const ms_opt *opts, const char *name);

/* tools: ms_opt_scan, then --help (stdout, exit 0) or the error with the usage line
 * (exit 2) */
int ms_opt_parse(ms_opt *opts, const char *usage, const char *about, unsigned mode,
                 int argc, char **argv);

#endif

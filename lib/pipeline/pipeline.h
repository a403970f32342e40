/* YAML pipeline files (ms-pipeline(5)): parse, substitute, plan, print, run. */
#ifndef MS_PIPELINE_H
#define MS_PIPELINE_H

#include <stddef.h>
#include <stdio.h>

/* a YAML scalar and where it starts in the file (1-based); text NULL when absent */
typedef struct {
	char *text;
	int line, col;
} ms_pval;

typedef struct {
	ms_pval name;
	int line, col;              /* the stage's mapping */
	int run_list;               /* run: was a sequence (args) rather than a string (run) */
	ms_pval run;
	ms_pval *args;
	size_t nargs;
	ms_pval input, output;
	ms_pval *needs, *writes;
	size_t nneeds, nwrites;
	char *swap;                 /* --swap command replacing run, or NULL */
	/* filled by ms_pipeline_plan */
	int selected;
	char **argv;                /* NULL-terminated */
	char *in, *out;             /* resolved input/output paths or NULL */
	char **need, **write;       /* resolved needs/writes, NULL-terminated */
	int chain;                  /* index of the chain the stage belongs to */
	int stdin_;                 /* chain head reading ms-run's standard input */
} ms_stage;

typedef struct {
	int first, last;            /* stage indices, inclusive; piped in between */
} ms_chain;

typedef struct {
	char *file;                 /* as given, for messages */
	ms_pval name, description;
	ms_pval *var_name, *var_value;  /* var_value.text NULL: no default */
	char **var_set;             /* --set values, NULL when not set */
	size_t nvars;
	ms_stage *stage;
	size_t nstages;
	int only;                   /* --only given: run only the selected stages */
	/* filled by ms_pipeline_plan */
	ms_chain *chain;
	size_t nchains;
	int *order;                 /* chain indices in the order they run */
	int interrupted;            /* signal that stopped ms_pipeline_run, or 0 */
} ms_pipeline;

/* Parse a pipeline file (or text in memory named file); NULL + ms_error
 * "file:line:col: message" on any error in the YAML or the format. */
ms_pipeline *ms_pipeline_load(const char *file);
ms_pipeline *ms_pipeline_parse(const char *file, const char *text, size_t len);
void ms_pipeline_free(ms_pipeline *p);

/* Command-line edits, before ms_pipeline_plan: "var=value", "stage=command",
 * "stage[,stage...]". -1 + ms_error on a malformed argument or an unknown name. */
int ms_pipeline_set(ms_pipeline *p, const char *assign);
int ms_pipeline_swap(ms_pipeline *p, const char *assign);
int ms_pipeline_only(ms_pipeline *p, const char *names);

/* Substitute variables, split commands, form chains, check file dependencies
 * (cycles, files written twice; with check_files, inputs that no selected
 * stage writes must exist) and fix the order of the chains. */
int ms_pipeline_plan(ms_pipeline *p, int check_files);
/* the planned pipeline as POSIX sh commands, one chain a line */
int ms_pipeline_print(const ms_pipeline *p, FILE *out);
/* Run the planned chains one at a time. -1 + ms_error when a stage fails or
 * cannot start (named in the message); p->interrupted is set when SIGINT,
 * SIGTERM or SIGHUP stopped the run. Log lines go to log when not NULL. */
int ms_pipeline_run(ms_pipeline *p, FILE *log);

/* Split a command like sh would (quotes, backslashes) without expanding
 * anything but ${var}, looked up with lookup(ctx, name) (NULL: undefined).
 * With lookup NULL, "$" is an ordinary character. Returns a NULL-terminated
 * array (free with ms_words_free) or NULL + ms_error. */
typedef const char *(*ms_lookup_fn)(void *ctx, const char *name);
char **ms_words_split(const char *s, ms_lookup_fn lookup, void *ctx);
void ms_words_free(char **w);
/* one word quoted for sh ('...' when needed); first: the command name */
char *ms_word_quote(const char *w, int first);
/* ${var} substitution in a scalar: "$${" and "\${" stand for a literal "${" */
char *ms_subst(const char *s, ms_lookup_fn lookup, void *ctx);

#endif

/* Pipeline files: word splitting, quoting round trips, substitution, parsing, planning. */
#include <string.h>

#include "core/ms.h"
#include "pipeline/pipeline.h"
#include "test.h"

/* words joined by '|' for compact comparisons; "ERR" when split failed */
static char joined[4096];
static const char *j(char **w)
{
	joined[0] = 0;
	if (!w)
		return "ERR";
	for (size_t i = 0; w[i]; i++) {
		if (i)
			strcat(joined, "|");
		strcat(joined, w[i]);
	}
	ms_words_free(w);
	return joined;
}

static const char *vars(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "v"))
		return "; rm -rf x";
	if (!strcmp(name, "sp"))
		return "a  b";
	if (!strcmp(name, "empty"))
		return "";
	ms_error("undefined variable '%s'", name);
	return NULL;
}

#define SPLIT(s) j(ms_words_split(s, NULL, NULL))
#define SPLITV(s) j(ms_words_split(s, vars, NULL))

static void test_split(void)
{
	CHECK(!strcmp(SPLIT("a b\t c\n"), "a|b|c"));
	CHECK(!strcmp(SPLIT("  "), ""));
	CHECK(!strcmp(SPLIT("'a b' \"c d\" e\\ f"), "a b|c d|e f"));
	CHECK(!strcmp(SPLIT("'' x \"\""), "|x|"));          /* empty words kept */
	CHECK(!strcmp(SPLIT("a'b'\"c\"d"), "abcd"));        /* adjacent parts, one word */
	CHECK(!strcmp(SPLIT("'a\\b' \"a\\b\" \"a\\\"b\" \"\\\\\""), "a\\b|a\\b|a\"b|\\"));
	CHECK(!strcmp(SPLIT("\"\\$x \\`\" '\\'"), "$x `|\\"));
	CHECK(!strcmp(SPLIT("a \\\n b"), "a|b"));           /* line continuation */
	CHECK(!strcmp(SPLIT("; | && > < & `x` $(y) # *.c ~"), ";|||&&|>|<|&|`x`|$(y)|#|*.c|~"));
	CHECK(!strcmp(SPLIT("printf '%s\\n' x"), "printf|%s\\n|x"));
	CHECK(!strcmp(SPLIT("'unterminated"), "ERR"));
	CHECK(strstr(ms_errmsg(), "unterminated single quote"));
	CHECK(!strcmp(SPLIT("\"unterminated"), "ERR"));
	CHECK(!strcmp(SPLIT("trailing\\"), "ERR"));
	CHECK(strstr(ms_errmsg(), "trailing backslash"));
	CHECK(!strcmp(SPLIT("${v}"), "${v}"));             /* no lookup: '$' is plain */
}

static void test_substitute(void)
{
	CHECK(!strcmp(SPLITV("x ${v}"), "x|; rm -rf x"));
	CHECK(!strcmp(SPLITV("${sp} '${sp}' \"${sp}\""), "a  b|a  b|a  b"));
	CHECK(!strcmp(SPLITV("<${v}>"), "<; rm -rf x>"));
	CHECK(!strcmp(SPLITV("${empty} x"), "|x"));       /* a word stays a word */
	CHECK(!strcmp(SPLITV("$${v} '$${v}' \\${v} \"\\${v}\" $x $ $$"),
	              "${v}|${v}|${v}|${v}|$x|$|$$"));
	CHECK(!strcmp(SPLITV("${nope}"), "ERR"));
	CHECK(strstr(ms_errmsg(), "undefined variable 'nope'"));
	CHECK(!strcmp(SPLITV("${v"), "ERR"));
	CHECK(strstr(ms_errmsg(), "unterminated '${'"));
	CHECK(!strcmp(SPLITV("${1a}"), "ERR"));
	CHECK(strstr(ms_errmsg(), "bad variable name '1a'"));

	char *s = ms_subst("a ${v} $${v} \\${v} \\x $y '${sp}'", vars, NULL);
	CHECK(s && !strcmp(s, "a ; rm -rf x ${v} ${v} \\x $y 'a  b'"));
	free(s);
	CHECK(ms_subst("${nope}", vars, NULL) == NULL);
}

static void quote_is(const char *w, int first, const char *want)
{
	char *q = ms_word_quote(w, first);
	CHECK(q && !strcmp(q, want));
	if (q && strcmp(q, want))
		fprintf(stderr, "quote(%s) = %s, want %s\n", w, q, want);
	free(q);
}

static void test_quote(void)
{
	quote_is("ms-edges", 1, "ms-edges");
	quote_is("--sigma=1.5", 0, "--sigma=1.5");
	quote_is("a/b.ms,c:d@e%f+g", 0, "a/b.ms,c:d@e%f+g");
	quote_is("", 0, "''");
	quote_is("a b", 0, "'a b'");
	quote_is("it's", 0, "'it'\\''s'");
	quote_is("'", 0, "''\\'''");
	quote_is("$x", 0, "'$x'");
	quote_is("a\nb", 0, "'a\nb'");
	quote_is("~", 0, "'~'");
	quote_is("#x", 0, "'#x'");
	quote_is("FOO=bar", 1, "'FOO=bar'");   /* not an assignment */
	quote_is("if", 1, "'if'");             /* not a reserved word */
	quote_is("if", 0, "if");
	quote_is("\xc3\xa9", 0, "'\xc3\xa9'");
}

/* quote every word, join, split again: the same words */
static int round_trip(char **w)
{
	char line[8192] = "";
	for (size_t i = 0; w[i]; i++) {
		char *q = ms_word_quote(w[i], i == 0);
		if (!q || strlen(line) + strlen(q) + 2 > sizeof line) {
			free(q);
			return 0;
		}
		if (i)
			strcat(line, " ");
		strcat(line, q);
		free(q);
	}
	char **w2 = ms_words_split(line, NULL, NULL);
	int same = w2 != NULL;
	size_t i = 0;
	for (; same && w[i] && w2[i]; i++)
		same = !strcmp(w[i], w2[i]);
	same = same && !w[i] && !w2[i];
	ms_words_free(w2);
	return same;
}

static void test_round_trip(void)
{
	static const char *const cmds[] = {
		"printf '%s\\n' 'a  b' \"it's\" c\\ d '' x",
		"sh -c 'kill -9 $$' \"a\\\\b\" '\\' '\"'",
		"; rm -rf x `id` $(id) && | > < & # ~ * ? [a] {b} !",
		"FOO=bar if then 'multi\nline' tab\\\tx",
		NULL
	};
	for (int i = 0; cmds[i]; i++) {
		char **w = ms_words_split(cmds[i], NULL, NULL);
		CHECK(w && round_trip(w));
		ms_words_free(w);
	}
	/* random words of any bytes but NUL */
	ms_rng r;
	ms_rng_init(&r, 7, 0);
	int bad = 0;
	for (int t = 0; t < 2000; t++) {
		char *w[5] = { 0 };
		int n = 1 + (int)ms_rng_below(&r, 4);
		for (int i = 0; i < n; i++) {
			int len = (int)ms_rng_below(&r, 12);
			w[i] = malloc((size_t)len + 1);
			for (int k = 0; k < len; k++) {
				/* mostly the characters sh cares about */
				static const char special[] = "'\"\\ \t\n$`;|&<>#~*?=%{}!";
				w[i][k] = ms_rng_below(&r, 2) ? special[ms_rng_below(&r, sizeof special - 1)]
				                                : (char)(1 + ms_rng_below(&r, 255));
			}
			w[i][len] = 0;
		}
		bad += !round_trip(w);
		for (int i = 0; i < n; i++)
			free(w[i]);
	}
	CHECK(bad == 0);
}

static const char good[] =
	"name: demo\n"
	"description: test\n"
	"vars:\n"
	"  n: 3\n"
	"  out: o.txt\n"
	"  req: ~\n"
	"stages:\n"
	"  - name: a\n"
	"    run: [printf, '%s\\n', '${n}']\n"
	"  - name: b\n"
	"    run: head -n ${n}\n"
	"    output: ./${out}\n"
	"  - name: c\n"
	"    input: ${out}\n"
	"    run: cat\n"
	"  - name: d\n"
	"    run: sort\n";

static void test_parse_plan(void)
{
	ms_pipeline *p = ms_pipeline_parse("g.yaml", good, sizeof good - 1);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(!strcmp(p->name.text, "demo") && p->nvars == 3 && p->nstages == 4);
	CHECK(p->var_value[2].text == NULL);
	CHECK(p->stage[0].run_list && p->stage[0].nargs == 3);
	CHECK(p->stage[1].run.line == 11 && p->stage[1].run.col == 10);
	CHECK(ms_pipeline_set(p, "n=5") == 0);
	CHECK(ms_pipeline_set(p, "zz=5") < 0 && strstr(ms_errmsg(), "no variable 'zz'"));
	CHECK(ms_pipeline_swap(p, "d=sort -r") == 0);
	CHECK(ms_pipeline_swap(p, "e=x") < 0);
	CHECK(ms_pipeline_plan(p, 0) == 0);
	CHECK(p->nchains == 2);
	CHECK(p->chain[0].first == 0 && p->chain[0].last == 1);
	CHECK(p->chain[1].first == 2 && p->chain[1].last == 3);
	CHECK(!strcmp(p->stage[0].argv[2], "5") && !strcmp(p->stage[1].argv[2], "5"));
	CHECK(!strcmp(p->stage[1].out, "o.txt") && !strcmp(p->stage[2].in, "o.txt"));
	CHECK(!strcmp(p->stage[3].argv[1], "-r"));
	CHECK(p->stage[0].stdin_ && !p->stage[2].stdin_);
	CHECK(p->order[0] == 0 && p->order[1] == 1);
	ms_pipeline_free(p);

	/* --only the middle of a chain: it reads standard input, writes its output */
	p = ms_pipeline_parse("g.yaml", good, sizeof good - 1);
	CHECK(ms_pipeline_only(p, "b") == 0);
	CHECK(ms_pipeline_plan(p, 0) == 0);
	CHECK(p->nchains == 1 && p->chain[0].first == 1 && p->stage[1].stdin_);
	ms_pipeline_free(p);
	/* a variable without a value used only by stages not selected */
	static const char unset[] = "name: u\nvars: {a: ~}\nstages:\n"
		"  - {name: x, run: 'cat ${a}', output: '${a}'}\n"
		"  - {name: y, run: sort, input: o}\n";
	p = ms_pipeline_parse("u.yaml", unset, sizeof unset - 1);
	CHECK(ms_pipeline_only(p, "y") == 0 && ms_pipeline_plan(p, 0) == 0);
	CHECK(p->nchains == 1 && p->stage[0].argv == NULL && !strcmp(p->stage[1].argv[0], "sort"));
	ms_pipeline_free(p);
	p = ms_pipeline_parse("u.yaml", unset, sizeof unset - 1);
	CHECK(ms_pipeline_only(p, "x") == 0 && ms_pipeline_plan(p, 0) < 0);
	CHECK(strstr(ms_errmsg(), "u.yaml:4:20: stage 'x': variable 'a' is not set"));
	ms_pipeline_free(p);
	p = ms_pipeline_parse("g.yaml", good, sizeof good - 1);
	CHECK(ms_pipeline_only(p, "a,d") == 0);
	CHECK(ms_pipeline_plan(p, 0) < 0 && strstr(ms_errmsg(), "stage 'd' reads the output of stage 'c'"));
	ms_pipeline_free(p);
}

/* parse (and plan) text; the message must contain want */
static void bad(const char *text, const char *want)
{
	ms_pipeline *p = ms_pipeline_parse("b.yaml", text, strlen(text));
	int ok = p && ms_pipeline_plan(p, 0) == 0;
	CHECK(!ok && strstr(ms_errmsg(), want));
	if (ok || !strstr(ms_errmsg(), want))
		fprintf(stderr, "got '%s', want '%s'\n", ms_errmsg(), want);
	ms_pipeline_free(p);
}

static void test_errors(void)
{
	bad("", "b.yaml: empty pipeline file");
	bad("[a, b]", "b.yaml:1:1: a pipeline must be a mapping");
	bad("name: x\n", "b.yaml:1:1: the pipeline has no stages");
	bad("stages: [{name: a, run: cat}]\n", "the pipeline has no name");
	bad("name: x\nstages: []\n", "b.yaml:2:9: stages is empty");
	bad("name: x\nname: y\n", "b.yaml:2:1: duplicate key 'name'");
	bad("name: x\nfoo: 1\n", "b.yaml:2:1: unknown key 'foo'");
	bad("name: x\nstages:\n  - name: a\n", "b.yaml:3:5: stage 'a' has no run");
	bad("name: x\nstages:\n  - run: cat\n", "b.yaml:3:5: stage 1 has no name");
	bad("name: x\nstages:\n  - {name: a b, run: cat}\n", "bad stage name 'a b'");
	bad("name: x\nstages:\n  - {name: a, run: []}\n", "b.yaml:3:20: stage 'a' has an empty run");
	bad("name: x\nstages:\n  - {name: a, run: ' '}\n", "stage 'a' has an empty run");
	bad("name: x\nstages:\n  - {name: a, run: [{x: 1}]}\n", "b.yaml:3:21: run must be a string");
	bad("name: x\nvars: {a-b: 1}\nstages: [{name: a, run: cat}]\n", "bad variable name 'a-b'");
	bad("name: x\nvars: {r: ~}\nstages: [{name: a, run: 'x ${r}'}]\n",
	    "b.yaml:3:25: stage 'a': variable 'r' is not set (--set r=VALUE)");
	bad("name: x\nstages: [{name: a, run: cat, output: o}, {name: b, run: cat, output: ./o}]\n",
	    "b.yaml:2:70: o is also written by stage 'a'");
	bad("name: x\nstages: [{name: a, run: cat, input: o, output: o}]\n",
	    "stage 'a' reads o, which it writes");
	bad("name: x\nstages:\n  - {name: a, run: cat, output: o, needs: [p]}\n"
	    "  - {name: b, run: cat, output: p, writes: [q], needs: [o]}\n"
	    "  - {name: c, run: cat, needs: q, output: r}\n"
	    "  - {name: d, run: cat, input: r}\n"
	    "  - {name: e, run: cat, input: o}\n",
	    "b.yaml:3:44: cycle in file dependencies: stage 'a' reads p from stage 'b', "
	    "stage 'b' reads o from stage 'a'");
	bad("name: x\nstages: [{name: a, run: \"x\\0\"}]\n", "b.yaml:2:25: run contains a NUL byte");
	bad("name: x: y\n", "b.yaml:1:8: mapping values are not allowed");
	bad("name: x\nstages: [{name: a, run: cat}]\n---\nname: y\n", "b.yaml:4:1: more than one YAML document");
}

int main(void)
{
	RUN(test_split);
	RUN(test_substitute);
	RUN(test_quote);
	RUN(test_round_trip);
	RUN(test_parse_plan);
	RUN(test_errors);
	return test_summary("pipeline");
}

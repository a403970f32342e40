/* libFuzzer: the pipeline parser (ms-pipeline(5)) on arbitrary text: parse, set the
 * variables, plan (substitution of ${var}, word splitting, chains; no file checks)
 * and print as sh. The text after a first NUL byte, if any, is split as a command
 * line with ${var} lookups, as ms-run --swap would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"

static const char *lookup(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "undefined") ? "v a l" : NULL;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static FILE *null;
	if (!null && !(null = fopen("/dev/null", "wb")))
		abort();
	const char *nul = memchr(data, 0, size);
	size_t len = nul ? (size_t)(nul - (const char *)data) : size;
	ms_pipeline *p = ms_pipeline_parse("fuzz.yaml", (const char *)data, len);
	if (p) {
		ms_pipeline_set(p, "data=d");
		ms_pipeline_set(p, "size=16x16");
		if (ms_pipeline_plan(p, 0) == 0)
			ms_pipeline_print(p, null);
		ms_pipeline_free(p);
	}
	if (nul) {
		char *s = strndup(nul + 1, size - len - 1);
		char **w = ms_words_split(s, lookup, NULL);
		ms_words_free(w);
		free(ms_subst(s, lookup, NULL));
		free(s);
	}
	return 0;
}

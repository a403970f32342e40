/* libFuzzer: the stream reader (ms-stream(5)) on arbitrary bytes. Records are read
 * one after another and, in turn, decoded (and written back), copied through or
 * skipped, as the tools do; metadata and ids are looked up. */
#include <stdio.h>
#include <stdlib.h>

#include "io/stream.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static FILE *null;
	if (!null && !(null = fopen("/dev/null", "wb")))
		abort();
	if (!size)
		return 0;
	FILE *in = fmemopen((void *)data, size, "rb");
	if (!in)
		return 0;
	ms_rec r;
	ms_rec_init(&r);
	for (int i = 0; i < 64 && ms_rec_read_header(in, &r) == 1; i++) {
		char id[256], v[64];
		ms_rec_id(&r, id, sizeof id);
		ms_meta_get(&r, "spacing", v, sizeof v);
		int ret;
		switch (i % 3) {
		case 0:
			if ((ret = ms_rec_read_data(in, &r)) == 0)
				ret = ms_rec_write(null, &r);
			break;
		case 1: ret = ms_rec_copy(in, &r, null); break;
		default: ret = ms_rec_skip(in, &r); break;
		}
		ms_rec_free(&r);
		if (ret < 0)
			break;
	}
	ms_rec_free(&r);
	fclose(in);
	return 0;
}

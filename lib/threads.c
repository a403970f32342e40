/* The one thread setting, handed to OpenBLAS (its own file, so that tools without
 * numeric work do not link OpenBLAS and start its threads). */
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "ms.h"

int ms_threads(int requested)
{
	int n = requested;
	if (n <= 0) {
		const char *e = getenv("MS_THREADS");
		long v;
		if (e && *e && ms_parse_int(e, 1, 1024, &v) == 0)
			n = (int)v;
	}
	if (n <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	openblas_set_num_threads(n);
	return n;
}

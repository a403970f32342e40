/* Pure-kernel benchmark of ms-edges: edge maps of the images of a stream held in
 * memory, no stream I/O.  usage: edges_kernel METHOD SIGMA REPEATS < stream */
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "core/ms.h"
#include "image/edges.h"
#include "io/stream.h"

int main(int argc, char **argv)
{
	ms_setprog(argv);
	if (argc != 4)
		die("usage: edges_kernel soft|canny|mask|diffboost SIGMA REPEATS < stream");
	ms_edges_opt o = { ms_edges_method_parse(argv[1]), atof(argv[2]), 0, 50, 150, 0, 0 };
	int reps = atoi(argv[3]), n = 0, ret;
	ms_rec *img = NULL, r;
	ms_rec_init(&r);
	while ((ret = ms_rec_read(stdin, &r)) == 1) {
		if (strcmp(r.name, "image"))
			continue;
		img = ereallocarray(img, n + 1, sizeof *img);
		img[n++] = r;
		ms_rec_init(&r);
	}
	if (ret < 0 || o.method < 0 || !n)
		die("no images or bad input: %s", ms_errmsg());
	ms_edges *e = ms_edges_new(&o);
	float *out = emalloc((size_t)ms_tensor_numel(&img[0].t) * sizeof *out);
	double t0 = bench_cpu();
	for (int k = 0; k < reps; k++)
		for (int i = 0; i < n; i++)
			if (ms_edges_compute(e, &img[i].t, NULL, out) < 0)
				die("%s", ms_errmsg());
	double s = bench_cpu() - t0;
	printf("%.0f\n", n * reps / s);
	for (int i = 0; i < n; i++)
		ms_rec_free(&img[i]);
	free(img);
	free(out);
	ms_edges_free(e);
	return 0;
}

/* Atomic output files and the stop signals of training loops (outfile.c). */
#ifndef MS_OUTFILE_H
#define MS_OUTFILE_H

#include <stdio.h>

/* atomic output files: written unnamed (O_TMPFILE) and linked into place on commit, or
 * where the file system cannot, written to path.tmpXXXXXX and renamed; a rename replaces
 * only a regular file. A path naming a FIFO or a device is written in place, never
 * replaced */
enum { MS_OUT_NAMED, MS_OUT_UNNAMED, MS_OUT_SPECIAL };
typedef struct {
	FILE *f;
	char *path, *tmp;        /* tmp: the temporary's name while it has one */
	int kind;                /* MS_OUT_* */
} ms_outfile;
int ms_outfile_open(ms_outfile *o, const char *path);
int ms_outfile_commit(ms_outfile *o);   /* flush, fsync-free close, link or rename */
void ms_outfile_abort(ms_outfile *o);   /* unlink the temporary, NULL-safe */
/* tools: remove every open temporary on die() or a fatal signal */
void ms_outfile_cleanup_all(void);

/* training loops: SIGINT and SIGTERM only set a flag, which the loop polls between steps
 * to checkpoint and exit 128 + signal. Checkpoints are saved between ms_stop_hold and
 * ms_stop_release (signals held; release puts back the handlers that ms_outfile_open
 * replaces with its own) */
void ms_stop_catch(void);                /* installs the handlers, clears the flag */
int ms_stop_signal(void);                /* the signal caught, or 0 */
void ms_stop_hold(void);
void ms_stop_release(void);

#endif

/* Atomic output files (ms_outfile): nothing left behind by kill -9, special files written
 * in place and never replaced, errors that name the file (issue 18). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ms.h"
#include "test.h"

static char dir[] = "/tmp/ms-test-outfile-XXXXXX";

static void path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

/* entries of dir other than . and .., their names in names (space-separated) */
static int entries(char *names, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int k = 0;
	names[0] = '\0';
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			k++;
			snprintf(names + strlen(names), n - strlen(names), " %s", e->d_name);
		}
	if (d)
		closedir(d);
	return k;
}

static void clear(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			path_in(p, sizeof p, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
}

static int unnamed_supported(void)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
	if (fd < 0 || access("/proc/self/fd", X_OK) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

/* a writer killed with SIGKILL in the middle of its file (new or replacing one) */
static void test_kill9_leaves_nothing(void)
{
	char p[512], names[1024];
	if (!unnamed_supported()) {
		printf("note: no O_TMPFILE under %s: kill -9 check skipped\n", dir);
		return;
	}
	path_in(p, sizeof p, "model.ms");
	for (int old = 0; old < 2; old++) {
		if (old) {
			FILE *f = fopen(p, "w");
			CHECK(f && fputs("old\n", f) >= 0 && fclose(f) == 0);
		}
		pid_t pid = fork();
		if (pid == 0) {
			ms_outfile o;
			if (ms_outfile_open(&o, p) < 0)
				_exit(3);
			for (int i = 0; i < 100000; i++)
				fputs("0123456789", o.f);
			fflush(o.f);
			kill(getpid(), SIGKILL);
			_exit(4);
		}
		int st = 0;
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		int k = entries(names, sizeof names);
		CHECK(k == old);
		if (k != old)
			fprintf(stderr, "left in %s:%s\n", dir, names);
		struct stat sb;
		CHECK(!old || (stat(p, &sb) == 0 && sb.st_size == 4));
	}
	clear();
}

static void test_commit_and_replace(void)
{
	char p[512], names[1024];
	struct stat sb;
	path_in(p, sizeof p, "out.bin");
	mode_t um = umask(022);
	for (int round = 0; round < 2; round++) {
		ms_outfile o;
		CHECK(ms_outfile_open(&o, p) == 0);
		CHECK(fprintf(o.f, "round %d\n", round) > 0);
		CHECK(ms_outfile_commit(&o) == 0);
		CHECK(stat(p, &sb) == 0 && sb.st_size == 8 && (sb.st_mode & 0777) == 0644);
		CHECK(entries(names, sizeof names) == 1 && !strcmp(names, " out.bin"));
	}
	ms_outfile o;                       /* abort: the old file stays, nothing added */
	CHECK(ms_outfile_open(&o, p) == 0);
	fputs("aborted\n", o.f);
	ms_outfile_abort(&o);
	CHECK(entries(names, sizeof names) == 1 && stat(p, &sb) == 0 && sb.st_size == 8);
	umask(um);
	clear();
}

/* a FIFO and a link to /dev/null are written in place and stay what they are;
 * a write error names the file given (a link to /dev/full: a full disk) */
static void test_special_files(void)
{
	char p[512], q[512], buf[600] = "";
	struct stat sb;
	ms_outfile o;
	path_in(p, sizeof p, "fifo");
	CHECK(mkfifo(p, 0600) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10);      /* a writer that replaced the FIFO never comes */
		FILE *f = fopen(p, "r");
		char b[64] = "";
		_exit(f && fgets(b, sizeof b, f) && !strcmp(b, "through the fifo\n") ? 0 : 1);
	}
	CHECK(ms_outfile_open(&o, p) == 0);
	fputs("through the fifo\n", o.f);
	CHECK(ms_outfile_commit(&o) == 0);
	int st = 1;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(lstat(p, &sb) == 0 && S_ISFIFO(sb.st_mode));

	path_in(q, sizeof q, "null");
	CHECK(symlink("/dev/null", q) == 0);
	CHECK(ms_outfile_open(&o, q) == 0);
	fputs("gone\n", o.f);
	CHECK(ms_outfile_commit(&o) == 0);
	CHECK(lstat(q, &sb) == 0 && S_ISLNK(sb.st_mode));
	CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));

	path_in(q, sizeof q, "full");
	if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode)) {
		CHECK(symlink("/dev/full", q) == 0);
		CHECK(ms_outfile_open(&o, q) == 0);
		fputs("no room\n", o.f);
		CHECK(ms_outfile_commit(&o) < 0);
		snprintf(buf, sizeof buf, "cannot write %s:", q);
		CHECK(strstr(ms_errmsg(), buf) && strstr(ms_errmsg(), "No space left"));
		CHECK(lstat(q, &sb) == 0 && S_ISLNK(sb.st_mode));
	}
	CHECK(ms_outfile_open(&o, dir) < 0 && strstr(ms_errmsg(), "directory"));
	CHECK(entries(buf, sizeof buf) == 2 + (stat("/dev/full", &sb) == 0));
	clear();
}

int main(void)
{
	test_mkdtemp(dir);
	RUN(test_kill9_leaves_nothing);
	RUN(test_commit_and_replace);
	RUN(test_special_files);
	clear();
	rmdir(dir);
	return test_summary("outfile");
}

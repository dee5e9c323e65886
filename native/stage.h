/* Shared between the two modes of ocirun-stage (create and exec). */
#ifndef OCIRUN_STAGE_H
#define OCIRUN_STAGE_H
#include <stddef.h>

extern int sync_fd;
void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int read_line(char *buf, size_t size);
void write_file(const char *path, const char *data);
/* "<hexflag> <path>" of a join instruction: returns the path, sets *flag. */
const char *parse_join(const char *arg, unsigned long *flag);
void join_namespace(unsigned long flag, const char *path);
/* Makes the directory `fd` (possibly in another mount namespace) the root and cwd, then closes it. */
void chroot_to_fd(int fd, const char *what);
/* clone(CLONE_PARENT): the parent reports "pid N" and exits; returns in the child. */
void fork_for_parent(const char *what);

/* exec mode: see stage-exec.c. Never returns. */
void exec_stage(void) __attribute__((noreturn));
#endif

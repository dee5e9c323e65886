/*
 * ocirun-stage: the only part of ocirun that is not JavaScript.
 *
 * A multi-threaded process (Node always is) cannot unshare(CLONE_NEWUSER),
 * cannot setns() into a user or mount namespace, and a JS heap does not
 * survive fork(). So the Node parent spawns this small single-threaded
 * program, which joins and creates the container's namespaces, forks the
 * container's init (the fork is what places it in a new pid namespace), and
 * execs Node again inside them. It holds no policy: what to join, what to
 * unshare and what to exec all arrive from the parent over the sync socket.
 *
 * It is a standalone executable rather than an LD_PRELOAD constructor (runc's
 * nsexec trick) because Node's own start-up is what we need to avoid: the
 * stage must run before any thread exists, and a separate tiny program makes
 * that obvious and keeps Node's loader out of it.
 *
 * CVE-2019-5736: before touching any namespace the stage re-executes itself
 * from a sealed memfd copy, so that /proc/PID/exe of a process living inside
 * the container never leads back to a writable host file.
 *
 * Protocol on the sync socket (fd given as argv[2]), lines of text:
 *   parent -> stage: "join <hexflag> <path>" ...  (in order: user first, mount last;
 *                                                  applied after "end")
 *                    "unshare <hexflags>"
 *                    "timens <mono-s> <mono-ns> <boot-s> <boot-ns>"
 *                    "end"
 *   stage -> parent: "userns"          (new user ns made: write the maps)
 *   parent -> stage: "maps-ok"
 *   stage -> parent: "pid <host pid of init>"   then the stage exits 0
 *   stage -> parent: "error <step>: <strerror> (errno N)"  then exit 1
 * The init then runs argv[3..] (node and its entry script) with the same fds.
 *
 * `ocirun-stage exec SYNC_FD` starts a process in a running container
 * instead: see stage-exec.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stage.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#define MAX_JOINS 16

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int sync_fd = -1;

void reply(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(sync_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= w;
	}
}

/* Report the failed step with its errno to the parent, then exit 1. */
void fail(const char *fmt, ...)
{
	int saved = errno;
	char step[3000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(step, sizeof(step), fmt, ap);
	va_end(ap);
	if (sync_fd >= 0)
		reply("error %s: %s (errno %d)", step, strerror(saved), saved);
	else
		fprintf(stderr, "ocirun-stage: %s: %s\n", step, strerror(saved));
	_exit(1);
}

/* Reads one line, byte by byte, so that nothing after it is consumed: the
 * Node init reads the rest of the socket after us. */
int read_line(char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(sync_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read sync socket");
		if (r == 0) {
			errno = EPIPE;
			fail("read sync socket: parent closed it");
		}
		if (c == '\n')
			break;
		if (n + 1 >= size) {
			errno = E2BIG;
			fail("read sync socket: line too long");
		}
		buf[n++] = c;
	}
	buf[n] = 0;
	return (int)n;
}

static int is_sealed_self(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int seals = fcntl(fd, F_GET_SEALS);
	close(fd);
	return seals >= 0 && (seals & F_SEAL_WRITE);
}

/* Re-exec from a sealed, anonymous copy of this binary (runc's cloned_binary). */
static void reexec_sealed(char **argv)
{
	if (is_sealed_self())
		return;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		fail("open /proc/self/exe");
	int mfd = memfd_create("ocirun-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL)
		mfd = memfd_create("ocirun-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		fail("memfd_create");
	struct stat st;
	if (fstat(src, &st) < 0)
		fail("fstat /proc/self/exe");
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, st.st_size - off);
		if (n <= 0)
			fail("copy /proc/self/exe to memfd");
	}
	close(src);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		fail("seal memfd");
	extern char **environ;
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	fail("execveat sealed memfd");
}

void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s", path);
	size_t len = strlen(data);
	if (write(fd, data, len) != (ssize_t)len)
		fail("write %s", path);
	close(fd);
}

const char *parse_join(const char *arg, unsigned long *flag)
{
	char *end;
	*flag = strtoul(arg, &end, 16);
	if (*end != ' ') {
		errno = EINVAL;
		fail("bad join line");
	}
	return end + 1;
}

void join_namespace(unsigned long flag, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open namespace %s", path);
	if (setns(fd, (int)flag) < 0)
		fail("setns %s", path);
	close(fd);
}

/*
 * Joining a mount namespace by path. The init is the host's node, and the
 * joined namespace (another container's, say) need not hold node or its
 * libraries. So the stage takes a detached copy of the host's mount tree
 * (open_tree OPEN_TREE_CLONE) before it joins anything, keeps an fd of the
 * joined namespace's root, and execs the init with its root in the copy.
 * The init loads what it needs from the host, then chroots into the fd
 * ($_OCIRUN_JOINED_ROOT_FD) before its first mount: mount(2) and
 * pivot_root(2) then act on the joined namespace, the one it is in.
 */
static int clone_host_tree(void)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | AT_RECURSIVE | O_CLOEXEC);
	if (fd < 0)
		fail("open_tree / (a copy of the host's mounts for the init)");
	return fd;
}

/* Called right after the joins: the root of the joined mount namespace. */
static void keep_joined_root(void)
{
	int fd = open("/", O_PATH | O_DIRECTORY);
	if (fd < 0)
		fail("open / of the joined mount namespace");
	char num[16];
	snprintf(num, sizeof(num), "%d", fd);
	if (setenv("_OCIRUN_JOINED_ROOT_FD", num, 1) < 0)
		fail("setenv");
}

void chroot_to_fd(int fd, const char *what)
{
	if (fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		fail("%s", what);
	close(fd);
}

/* CLONE_PARENT: the child is the Node parent's, which can wait for it
 * (ocirun run, a foreground exec) or exit and leave it to the caller's
 * subreaper. The fork is also what enters a joined or new pid namespace. */
void fork_for_parent(const char *what)
{
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail("clone %s", what);
	if (pid > 0) {
		reply("pid %d", pid);
		_exit(0);
	}
}

int main(int argc, char **argv)
{
	int exec_mode = argc == 3 && strcmp(argv[1], "exec") == 0;
	if (!exec_mode && (argc < 4 || strcmp(argv[1], "create") != 0)) {
		fprintf(stderr, "usage: ocirun-stage create SYNC_FD PROGRAM [ARGS...]\n"
				"       ocirun-stage exec SYNC_FD\n"
				"(internal to ocirun; not meant to be run by hand)\n");
		return 2;
	}
	sync_fd = atoi(argv[2]);
	if (fcntl(sync_fd, F_GETFD) < 0) {
		sync_fd = -1;
		fail("sync fd %s", argv[2]);
	}
	reexec_sealed(argv);
	prctl(PR_SET_NAME, (unsigned long)"ocirun:[stage]", 0, 0, 0);
	if (exec_mode)
		exec_stage();

	unsigned long unshare_flags = 0;
	unsigned long join_flags[MAX_JOINS];
	char *join_paths[MAX_JOINS];
	int njoins = 0;
	int joined_mount = 0;
	char timens[256] = "";
	char line[8192];
	for (;;) {
		read_line(line, sizeof(line));
		if (strcmp(line, "end") == 0)
			break;
		if (strncmp(line, "join ", 5) == 0) {
			unsigned long flag;
			const char *path = parse_join(line + 5, &flag);
			if (njoins == MAX_JOINS) {
				errno = E2BIG;
				fail("too many join instructions");
			}
			join_flags[njoins] = flag;
			join_paths[njoins++] = strdup(path);
			joined_mount |= (flag & CLONE_NEWNS) != 0;
		} else if (strncmp(line, "unshare ", 8) == 0) {
			unshare_flags = strtoul(line + 8, NULL, 16);
		} else if (strncmp(line, "timens ", 7) == 0) {
			long long ms, mn, bs, bn;
			if (sscanf(line + 7, "%lld %lld %lld %lld", &ms, &mn, &bs, &bn) != 4) {
				errno = EINVAL;
				fail("bad timens line");
			}
			snprintf(timens, sizeof(timens), "monotonic %lld %lld\nboottime %lld %lld\n", ms, mn, bs, bn);
		} else {
			errno = EINVAL;
			fail("unknown instruction '%.64s'", line);
		}
	}

	/* Before any join: cloning the host's mounts needs the host's privileges. */
	int host_tree = joined_mount ? clone_host_tree() : -1;
	for (int i = 0; i < njoins; i++)
		join_namespace(join_flags[i], join_paths[i]);
	if (host_tree >= 0)
		keep_joined_root();

	if (unshare_flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail("unshare user namespace");
		reply("userns");
		read_line(line, sizeof(line));
		if (strcmp(line, "maps-ok") != 0) {
			errno = EPROTO;
			fail("waiting for the uid/gid maps: got '%.64s'", line);
		}
		/* Become root of the new namespace, as runc does. */
		if (setresgid(0, 0, 0) < 0)
			fail("setresgid 0 in user namespace");
		if (setresuid(0, 0, 0) < 0)
			fail("setresuid 0 in user namespace");
	}
	unsigned long rest = unshare_flags & ~(unsigned long)CLONE_NEWUSER;
	if (rest && unshare((int)rest) < 0)
		fail("unshare namespaces %#lx", rest);
	if ((rest & CLONE_NEWTIME) && timens[0])
		write_file("/proc/self/timens_offsets", timens);

	fork_for_parent("init");

	/* init: a new session, like runc's stage-2, then Node inside. */
	if (setsid() < 0)
		fail("setsid");
	prctl(PR_SET_NAME, (unsigned long)"ocirun:[init]", 0, 0, 0);
	/* Last: a chrooted process may not unshare a user namespace. The joined
	 * root's fd stays open, without close-on-exec, for the init. */
	if (host_tree >= 0)
		chroot_to_fd(host_tree, "enter the copy of the host's mounts");
	extern char **environ;
	execve(argv[3], argv + 3, environ);
	fail("exec %s", argv[3]);
	return 1;
}

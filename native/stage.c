/*
 * ocirun-stage: the only part of ocirun that is not TypeScript.
 *
 * A multi-threaded process (every JavaScript engine is one) cannot
 * unshare(CLONE_NEWUSER), cannot setns() into a user or mount namespace,
 * and a JS heap does not survive fork(). So the parent spawns this small
 * single-threaded program, which joins and creates the namespaces, forks
 * the process that lives in them (the fork is what enters a new or joined
 * pid namespace), and execs the engine again there: the container's init
 * for `create`, or the init of an exec'd process, which then sets the
 * process up exactly as the container's init does (src/process/). It holds
 * no policy: what to join, what to unshare and what to exec all arrive from
 * the parent.
 *
 * CVE-2019-5736: before touching any namespace the stage re-executes itself
 * from a sealed memfd copy (unless it already runs from one), so that
 * /proc/PID/exe of a process living inside the container never leads back
 * to a writable host file, and it makes itself non-dumpable.
 *
 * Protocol on the sync socket (fd given as argv[1]), one message a line
 * (src/process/messages.ts is the other side; the words come from there,
 * through the generated ocirun-protocol.h):
 *   parent -> stage: "root <path>"               opened now: the process's root after the joins
 *                    "join <hexflag> <path>" ... opened as read, joined in runc's order (join_namespaces)
 *                    "unshare <hexflags>"
 *                    "timens <mono-s> <mono-ns> <boot-s> <boot-ns>"
 *                    "bind <index> <hexflags> <userns fd> <path>" ... (see read_bind_line)
 *                    "seal <fd>" ...            the fd becomes a sealed copy of its file
 *                    "end"
 *   stage -> parent: "userns"          (a new user ns exists: write the maps)
 *   parent -> stage: "maps-ok"
 *   stage -> parent: "bind-fd <index> <fd>" ... a copy of each bind source
 * In its "mount-source" mode (argv[2], see serve_mount_source) the stage
 * reads one "join" of a mount namespace and one "bind", then answers
 * "mount-source-fd <index>" with the copy attached, or "error ...".
 *   stage -> parent: "pid <host pid>"  then the stage exits 0
 *   stage -> parent: "error <step>: <strerror> (errno N)"  then exit 1
 * The forked process then runs argv[2..] (the engine and its init entry)
 * with the same fds, in a new session.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <elf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocirun-protocol.h"

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
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
struct mount_attr {
	unsigned long long attr_set;
	unsigned long long attr_clr;
	unsigned long long propagation;
	unsigned long long userns_fd;
};
#endif

#define MAX_JOINS 16
#define LINE_MAX_LEN 4096

static int sync_fd = -1;

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char buf[LINE_MAX_LEN];
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
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	int saved = errno;
	char step[LINE_MAX_LEN / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(step, sizeof(step), fmt, ap);
	va_end(ap);
	if (sync_fd >= 0)
		reply(OCIRUN_WORD_ERROR " %s: %s (errno %d)", step, strerror(saved), saved);
	else
		fprintf(stderr, "ocirun-stage: %s: %s\n", step, strerror(saved));
	_exit(1);
}

static void fail_with(int err, const char *what) __attribute__((noreturn));
static void fail_with(int err, const char *what)
{
	errno = err;
	fail("%s", what);
}

/* Reads one line, byte by byte, so that nothing after it is consumed: the
 * init reads the rest of the socket after us. */
static void read_line(char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(sync_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read sync socket");
		if (r == 0)
			fail_with(EPIPE, "read sync socket: parent closed it");
		if (c == '\n')
			break;
		if (c == 0 || n + 1 >= size)
			fail_with(E2BIG, "read sync socket: line too long or not text");
		buf[n++] = c;
	}
	buf[n] = 0;
}

/*
 * A whole number in `base` that fits `max`, ending at a space or the end
 * of the string; *end is left after it. Anything else fails the stage.
 */
static unsigned long long parse_number(const char *s, int base, unsigned long long max, const char **end, const char *what)
{
	char *e;
	errno = 0;
	/* strtoull would take leading blanks and a sign ("-1" wraps to the maximum). */
	if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		fail_with(EINVAL, what);
	unsigned long long v = strtoull(s, &e, base);
	if (errno || e == s || v > max || (*e != 0 && *e != ' '))
		fail_with(EINVAL, what);
	*end = e;
	return v;
}

/* A signed number for the time namespace offsets: int64 seconds, nanoseconds below 1e9. */
static long long parse_signed(const char *s, const char **end, const char *what)
{
	int neg = *s == '-';
	unsigned long long v = parse_number(s + neg, 10, neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX, end, what);
	return neg ? (long long)(0 - v) : (long long)v;
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

/*
 * A sealed, anonymous copy of the file `src` (closed), with `mode`: nothing
 * can change it once made, and no path leads to it.
 */
static int sealed_copy(int src, const char *name, mode_t mode)
{
	int mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL)
		mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		fail("memfd_create %s", name);
	struct stat st;
	if (fstat(src, &st) < 0)
		fail("fstat (copy to memfd %s)", name);
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, st.st_size - off);
		if (n <= 0)
			fail("copy to memfd %s", name);
	}
	close(src);
	if (fchmod(mfd, mode) < 0)
		fail("fchmod memfd %s", name);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		fail("seal memfd %s", name);
	return mfd;
}

/* Re-exec from a sealed, anonymous copy of this binary (runc's cloned_binary). */
static void reexec_sealed(char **argv)
{
	if (is_sealed_self())
		return;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		fail("open /proc/self/exe");
	int mfd = sealed_copy(src, "ocirun-stage", 0700);
	extern char **environ;
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	fail("execveat sealed memfd");
}

/*
 * What makes the engine unreachable from the container's user namespace
 * while it sets the container up. The engine is exec'd after the joins, so
 * the kernel would give its memory the container's user namespace
 * (mm->user_ns), and a process of a joined user namespace holding
 * CAP_SYS_PTRACE there (a pod's neighbour in a shared pid namespace) could
 * then open its /proc/PID/ns/mnt or /proc/PID/root although it is not
 * dumpable: before pivot_root that is the host's /. runc's init is exec'd
 * in the host's user namespace before it joins, which rules that out; a
 * multi-threaded engine cannot join a user namespace after its exec. But
 * the kernel also moves mm->user_ns up to the first user namespace that
 * maps the exec'd file's owner when the file is unreadable to the process
 * (would_dump). So a dynamically linked engine is run by a copy of its ELF
 * interpreter (ld.so runs the program given as its argument, which it
 * reads through the engine's fd) that is mode 0111 and belongs to an id
 * the container's user namespace does not map: a root caller gives it to
 * UNMAPPED_ID (root of a namespace can read what it maps the owner of,
 * and maps may well include host root), a rootless one keeps its own,
 * which only maps that leave the caller's uid out protect. Made before any
 * join, from the caller's own view of the files. Returns -1 for a static
 * engine, or one that others may not read (ld.so could not read it as the
 * container's root; exec'd itself, it is unreadable to it already).
 */
/* The highest valid id ((uid_t)-1 is none); a user namespace that maps it is refused (refuse_mapped_interpreter). */
#define UNMAPPED_ID 4294967294u
/* Whether the interpreter's copy is UNMAPPED_ID's (fstat shows it as the namespace sees it). */
static int interpreter_unmapped;

static int unreadable_interpreter(const char *engine_path)
{
	int fd = open(engine_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s", engine_path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !(st.st_mode & S_IROTH)) {
		close(fd);
		return -1;
	}
	Elf64_Ehdr eh;
	char interp[PATH_MAX];
	interp[0] = 0;
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
		for (int i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph))) != (ssize_t)sizeof(ph))
				break;
			if (ph.p_type != PT_INTERP)
				continue;
			if (ph.p_filesz < 2 || ph.p_filesz > sizeof(interp) ||
			    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz || interp[ph.p_filesz - 1] != 0 || interp[0] != '/') {
				errno = ENOEXEC;
				fail("read the ELF interpreter of %s", engine_path);
			}
			break;
		}
	}
	close(fd);
	if (!interp[0])
		return -1;
	int src = open(interp, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		fail("open %s (the engine's ELF interpreter)", interp);
	int copy = sealed_copy(src, "ocirun-ld.so", 0111);
	/* EINVAL: we run in a user namespace (rootless podman's) that does not
	 * map it either; the copy stays ours, as a rootless caller's does. */
	if (geteuid() == 0) {
		if (fchown(copy, UNMAPPED_ID, UNMAPPED_ID) == 0)
			interpreter_unmapped = 1;
		else if (errno != EINVAL)
			fail("fchown the engine's interpreter to %u", UNMAPPED_ID);
	}
	return copy;
}

/*
 * Where the engine starts. The engine is the host's, and a joined mount
 * namespace (another container's, or the container's own for an exec)
 * need not hold it or its libraries; and while it starts, before its first
 * line can make it non-dumpable, a process of the container that sees it
 * (a shared pid namespace, an exec) could open /proc/PID/exe and later
 * write the host's engine binary through it (CVE-2019-5736). So the stage
 * takes a detached copy of the host's mount tree (open_tree
 * OPEN_TREE_CLONE) before it joins anything, makes the copy read-only
 * (mount_setattr MOUNT_ATTR_RDONLY, recursively: a write through any path
 * into it is EROFS, and nothing in the container can reach the detached
 * mounts to change that), keeps an fd of the root the process is to have
 * (sent to the parent in "init-fds"), and execs the engine with its root in the copy. The
 * init loads what it needs from the host, then chroots into that fd: from
 * there on, paths, mount(2) and pivot_root(2) act in its own namespace.
 */
static int clone_host_tree(void)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | AT_RECURSIVE | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		fail("mount_setattr MOUNT_ATTR_RDONLY (the engine's copy of the host's mounts)");
	return fd;
}

/* Whether `id` is in one of the ranges of a uid_map or gid_map read through `tree`. */
static int id_mapped(int tree, const char *file, unsigned long id)
{
	int fd = openat(tree, file, O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "re");
	if (!f)
		fail("open /%s", file);
	unsigned long inside, outside, count;
	int mapped = 0;
	while (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		mapped |= id >= outside && id - outside < count;
	fclose(f);
	return mapped;
}

/*
 * In the container's user namespace, before the engine's exec: the copy
 * of its interpreter must belong to a uid or a gid the namespace does not
 * map, or its root could read it (unreadable_interpreter). One that maps
 * UNMAPPED_ID as both is refused: the engine would be within its reach.
 * Read through the copy of the host's mounts, whose /proc shows us.
 */
static void refuse_mapped_interpreter(int interp, int tree)
{
	if (interp < 0 || !interpreter_unmapped)
		return;
	if (id_mapped(tree, "proc/self/uid_map", UNMAPPED_ID) && id_mapped(tree, "proc/self/gid_map", UNMAPPED_ID))
		fail_with(EPERM, "the user namespace maps uid and gid 4294967294, which must stay unmapped to keep the engine out of its reach");
}

/* The engine, by fd, and the copy of its interpreter that runs it (-1: exec'd itself). */
struct engine {
	int fd;
	int interp;
};

static void open_engine(struct engine *e, int tree, const char *path)
{
	e->fd = openat(tree, path + 1, O_PATH | O_CLOEXEC);
	if (e->fd < 0)
		fail("open %s in the copy of the host's mounts", path);
}

/*
 * The copy of the host's mounts for a rootless caller, who has no
 * privileges over the host's mount namespace: once it is root of the
 * container's user namespace (joined or new), a mount namespace of its own
 * is a copy of the host's that it may clone. Before any mount namespace is
 * joined, so it is the host's mounts that are copied.
 */
static void clone_host_tree_in_userns(int *host_tree, struct engine *engine, const char *engine_path)
{
	if (*host_tree >= 0)
		return;
	if (unshare(CLONE_NEWNS) < 0)
		fail("unshare mount namespace (the engine's copy of the host's mounts)");
	*host_tree = clone_host_tree();
	if (*host_tree < 0)
		fail("open_tree / (a copy of the host's mounts for the engine)");
	open_engine(engine, *host_tree, engine_path);
}

/*
 * The executable this stage was started from, when that is an fd of the
 * parent's (the single file's sealed memfd, run as /proc/self/fd/N): it is
 * not the init's to hold, where a process of the container could see it.
 */
static void close_own_executable_fd(void)
{
	struct stat self;
	if (stat("/proc/self/exe", &self) < 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dfd && fd != sync_fd && fstat(fd, &st) == 0 && st.st_dev == self.st_dev && st.st_ino == self.st_ino)
			close(fd);
	}
	closedir(d);
}

/*
 * The engine must not be dumpable from its first instruction: until its
 * first line of JavaScript says so, a process of the container that sees
 * it (a create joining another container's pid namespace) could ptrace it
 * or open its /proc files. The kernel leaves a program non-dumpable
 * (fs.suid_dumpable) when it is exec'd with a real gid other than its
 * effective one, so the real gid becomes another mapped one for the exec
 * (the kernel refuses an unmapped one with EINVAL); the init puts it back
 * first thing (src/process/init.ts). Only root may; where no other gid is
 * mapped, the engine starts dumpable and makes itself not so at once.
 */
static void real_gid_for_a_nondumpable_exec(void)
{
	if (geteuid() != 0)
		return;
	gid_t egid = getegid();
	const gid_t candidates[] = { egid + 1, 1, 65534, 100 };
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (candidates[i] != egid && setresgid(candidates[i], egid, egid) == 0)
			return;
	}
}

static void chroot_to_fd(int fd, const char *what)
{
	if (fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		fail("%s", what);
	close(fd);
}

/*
 * Bind sources ("bind" instructions). A bind mount's source must be a
 * mount of the container's own mount namespace: when that namespace was
 * copied into the container's user namespace, the kernel locked the flags
 * of every mount in it (read-only, nosuid, nodev, noexec, atime) and the
 * mounts below each one, and a bind or open_tree copy of such a mount
 * keeps those locks. A copy made in the host's namespace would carry none,
 * and the container could then remount the host's read-only mount
 * read-write, or unmount what covers a directory of the host. Yet the
 * container's root may not reach a source below a directory it cannot
 * search. As runc does, a process that stays root on the host (a helper
 * forked before any join) enters the container's mount namespace once it
 * exists, before anything of the container runs, and there takes a
 * detached copy (open_tree) of each source, for the init to move into
 * place. The copies come back over a socket pair and stay open across the
 * exec; their numbers go to the parent ("bind-fd"). An id-mapped source is
 * copied the same way (bind_source_tree), but at its mount's turn, by the
 * stage run again in its mount-source mode (serve_mount_source).
 */
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
/* The bits of a "bind" instruction's flags (src/process/messages.ts BIND). */
#define BIND_RECURSIVE 0x1
#define BIND_IDMAP 0x2
#define BIND_IDMAP_RECURSIVE 0x4
#define MAX_BINDS 512

struct bind_source {
	unsigned index;
	unsigned flags;
	int userns_fd;
	char *path;
};

static struct {
	struct bind_source list[MAX_BINDS];
	int n;
	pid_t helper;
	int sock;
} binds = { .helper = -1, .sock = -1 };

/* "bind <index> <hexflags> <userns fd> <path>" */
static void read_bind_line(const char *fields)
{
	const char *end;
	if (binds.n == MAX_BINDS)
		fail_with(E2BIG, "too many bind instructions");
	struct bind_source *b = &binds.list[binds.n];
	b->index = (unsigned)parse_number(fields, 10, UINT_MAX, &end, "bad bind line");
	if (*end != ' ')
		fail_with(EINVAL, "bad bind line");
	b->flags = (unsigned)parse_number(end + 1, 16, BIND_RECURSIVE | BIND_IDMAP | BIND_IDMAP_RECURSIVE, &end, "bad bind line");
	if (*end != ' ')
		fail_with(EINVAL, "bad bind line");
	b->userns_fd = (int)parse_number(end + 1, 10, INT_MAX, &end, "bad bind line");
	if (*end != ' ' || end[1] != '/')
		fail_with(EINVAL, "bad bind line");
	if ((b->flags & BIND_IDMAP) && fcntl(b->userns_fd, F_GETFD) < 0)
		fail("bind-source %u user namespace fd %d", b->index, b->userns_fd);
	b->path = strdup(end + 1);
	if (!b->path)
		fail("strdup");
	binds.n++;
}

/* Sends `fd` (SCM_RIGHTS) with `len` bytes of `data` (at least one byte must go with it). */
static void send_fd(int sock, int fd, const char *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t w;
	while ((w = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0)
		if (errno != EINTR)
			fail("send a bind source");
	/* The rest of a line the socket took only in part goes without the fd. */
	for (size_t off = (size_t)w; off < len;) {
		w = send(sock, data + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail("send a bind source");
		off += (size_t)w;
	}
}

/* The next fd from the socket, or -1 once the other end is closed. */
static int recv_fd(int sock, int flags)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t r;
	while ((r = recvmsg(sock, &msg, flags)) < 0 && errno == EINTR)
		;
	if (r < 0)
		fail("receive a bind source");
	if (r == 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)) || (msg.msg_flags & MSG_CTRUNC))
		fail_with(EPROTO, "receive a bind source: no fd");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* A detached copy of one source, as the helper makes it in the container's mount namespace. */
static int bind_source_tree(const struct bind_source *b)
{
	int src = open(b->path, O_PATH | O_CLOEXEC);
	if (src < 0)
		fail("bind-source %u open", b->index);
	unsigned tree_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | ((b->flags & BIND_RECURSIVE) ? AT_RECURSIVE : 0);
	int tree = (int)syscall(SYS_open_tree, src, "", tree_flags);
	if (tree < 0)
		fail("bind-source %u open_tree", b->index);
	close(src);
	if (b->flags & BIND_IDMAP) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)b->userns_fd };
		unsigned at = AT_EMPTY_PATH | ((b->flags & BIND_IDMAP_RECURSIVE) ? AT_RECURSIVE : 0);
		if (syscall(SYS_mount_setattr, tree, "", at, &attr, sizeof(attr)) < 0)
			fail("bind-source %u id-map (mount_setattr MOUNT_ATTR_IDMAP)", b->index);
	}
	return tree;
}

/* The helper: waits for the container's mount namespace, then sends a copy of each source. */
static void run_bind_helper(int sock) __attribute__((noreturn));
static void run_bind_helper(int sock)
{
	int ns = recv_fd(sock, MSG_CMSG_CLOEXEC);
	if (ns < 0)
		_exit(1); /* the stage failed before, and said so */
	if (setns(ns, CLONE_NEWNS) < 0)
		fail("bind-source %u setns into the container's mount namespace", binds.list[0].index);
	close(ns);
	for (int i = 0; i < binds.n; i++) {
		int tree = bind_source_tree(&binds.list[i]);
		send_fd(sock, tree, "", 1);
		close(tree);
	}
	_exit(0);
}

/* Before any join: the helper must keep the caller's privileges over the host. */
static void start_bind_helper(void)
{
	int sv[2];
	if (!binds.n)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair (bind sources)");
	binds.helper = fork();
	if (binds.helper < 0)
		fail("fork (bind sources)");
	if (binds.helper == 0) {
		close(sv[0]);
		run_bind_helper(sv[1]);
	}
	close(sv[1]);
	binds.sock = sv[0];
}

/* Once the container's mount namespace exists (made or joined), before the fork of the init. */
static void collect_bind_sources(void)
{
	if (!binds.n)
		return;
	int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		fail("open /proc/self/ns/mnt (bind sources)");
	send_fd(binds.sock, ns, "", 1);
	close(ns);
	for (int i = 0; i < binds.n; i++) {
		/* Without close-on-exec: the init's engine moves them into place, then closes them. */
		int tree = recv_fd(binds.sock, 0);
		if (tree < 0)
			break;
		reply(OCIRUN_WORD_BIND_FD " %u %d", binds.list[i].index, tree);
	}
	int status;
	while (waitpid(binds.helper, &status, 0) < 0)
		if (errno != EINTR)
			fail("wait for the bind sources' helper");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		_exit(1); /* it reported the failed step to the parent */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_with(ECHILD, "bind sources: the helper ended abnormally");
	close(binds.sock);
}

struct instructions {
	int root_fd;
	unsigned long join_flags[MAX_JOINS];
	char *join_paths[MAX_JOINS];
	/* Opened as the instructions arrive: once a mount or user namespace is
	 * joined, a path may name something else, or nothing we may open. -1
	 * once joined. */
	int join_fds[MAX_JOINS];
	int njoins;
	unsigned long unshare_flags;
	char timens[160];
	int timens_fd;
};

/*
 * The new time namespace's offsets are written through a file opened now,
 * before any namespace is joined or made, as the caller: the kernel checks
 * CAP_SYS_TIME over the time namespace's user namespace with the opener's
 * credentials (file_ns_capable), which the caller has over a user namespace
 * it makes (root, or its owner when rootless). After the user namespace's
 * root becomes ours, /proc/self of a non-dumpable process is not ours to
 * open (runc has its parent write it for the same reason). A rootless
 * caller may open its own /proc files only while dumpable: for the open,
 * in the caller's own namespaces, where only the caller's peers see us.
 */
static int open_timens_offsets(void)
{
	if (geteuid() != 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE)");
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	int saved = errno;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE)");
	errno = saved;
	if (fd < 0)
		fail("open /proc/self/timens_offsets");
	return fd;
}

/* What follows "<word> " at the start of line, or NULL. */
static const char *after_word(const char *line, const char *word)
{
	size_t n = strlen(word);
	return strncmp(line, word, n) == 0 && line[n] == ' ' ? line + n + 1 : NULL;
}

static void read_instructions(struct instructions *in)
{
	char line[LINE_MAX_LEN];
	const char *end;
	memset(in, 0, sizeof(*in));
	in->root_fd = -1;
	in->timens_fd = -1;
	for (;;) {
		read_line(line, sizeof(line));
		const char *fields;
		if (strcmp(line, OCIRUN_WORD_END) == 0)
			return;
		if ((fields = after_word(line, OCIRUN_WORD_ROOT)) && fields[0] == '/') {
			if (in->root_fd >= 0)
				fail_with(EINVAL, "bad root line: given twice");
			/* Opened now, before the joins change what a path means. */
			in->root_fd = open(fields, O_PATH | O_DIRECTORY);
			if (in->root_fd < 0)
				fail("open the container's root %s", fields);
		} else if ((fields = after_word(line, OCIRUN_WORD_JOIN))) {
			if (in->njoins == MAX_JOINS)
				fail_with(E2BIG, "too many join instructions");
			unsigned long flag = parse_number(fields, 16, ULONG_MAX, &end, "bad join line");
			if (*end != ' ' || end[1] != '/')
				fail_with(EINVAL, "bad join line");
			in->join_flags[in->njoins] = flag;
			in->join_paths[in->njoins] = strdup(end + 1);
			if (!in->join_paths[in->njoins])
				fail("strdup");
			in->join_fds[in->njoins] = open(end + 1, O_RDONLY | O_CLOEXEC);
			if (in->join_fds[in->njoins] < 0)
				fail("open namespace %s", end + 1);
			in->njoins++;
		} else if ((fields = after_word(line, OCIRUN_WORD_UNSHARE))) {
			in->unshare_flags = parse_number(fields, 16, ULONG_MAX, &end, "bad unshare line");
			if (*end)
				fail_with(EINVAL, "bad unshare line");
		} else if ((fields = after_word(line, OCIRUN_WORD_BIND))) {
			read_bind_line(fields);
		} else if ((fields = after_word(line, OCIRUN_WORD_SEAL))) {
			/* Before the joins: the copy is host root's, and nothing can change it. */
			int fd = (int)parse_number(fields, 10, INT_MAX, &end, "bad seal line");
			if (*end || fd < 3 || fd == sync_fd || fcntl(fd, F_GETFD) < 0)
				fail_with(EINVAL, "bad seal line");
			int copy = sealed_copy(fd, "ocirun-sealed", 0555);
			if (dup2(copy, fd) < 0)
				fail("dup2 (seal fd %d)", fd);
			close(copy);
		} else if ((fields = after_word(line, OCIRUN_WORD_TIMENS))) {
			long long v[4];
			const char *p = fields;
			for (int i = 0; i < 4; i++) {
				v[i] = parse_signed(p, &end, "bad timens line");
				if ((i % 2 == 1 && (v[i] < 0 || v[i] >= 1000000000)) || (i < 3 && *end != ' ') || (i == 3 && *end))
					fail_with(EINVAL, "bad timens line");
				p = end + 1;
			}
			snprintf(in->timens, sizeof(in->timens), "monotonic %lld %lld\nboottime %lld %lld\n", v[0], v[1], v[2], v[3]);
			in->timens_fd = open_timens_offsets();
		} else {
			errno = EINVAL;
			fail("unknown instruction '%.64s'", line);
		}
	}
}

/*
 * Root of a joined user namespace, as after unshare(CLONE_NEWUSER) below
 * and as runc's nsexec does (runc#4466): the stage keeps the caller's ids,
 * which need not be mapped there, and the engine it execs would lose every
 * capability at the exec (only the namespace's root keeps them), and with
 * them the chroot into the container's root. A user namespace without a
 * uid 0 is an error, as in runc. Its gid 0 may be unmapped (runc then
 * keeps the caller's gid until the process's own is set): so it is here.
 */
static void become_root_of_joined_userns(const char *path)
{
	if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
		fail("setresgid 0 in user namespace %s", path);
	if (setresuid(0, 0, 0) < 0)
		fail("become root in user namespace %s: setresuid 0", path);
}

/* One pass over the joins left: of the user namespace, or of the others. */
static void join_pass(struct instructions *in, int user, int skip_eperm, int *host_tree, struct engine *engine, const char *engine_path)
{
	for (int i = 0; i < in->njoins; i++) {
		unsigned long flag = in->join_flags[i];
		if (in->join_fds[i] < 0 || (flag == CLONE_NEWUSER) != user)
			continue;
		/* A rootless caller's copy of the host's mounts is made once it
		 * is root of the user namespace, in the host's mount namespace. */
		if (skip_eperm && flag == CLONE_NEWNS && *host_tree < 0)
			continue;
		if (setns(in->join_fds[i], (int)flag) < 0) {
			if (skip_eperm && errno == EPERM)
				continue;
			fail("setns %s", in->join_paths[i]);
		}
		close(in->join_fds[i]);
		in->join_fds[i] = -1;
		if (flag == CLONE_NEWUSER) {
			become_root_of_joined_userns(in->join_paths[i]);
			clone_host_tree_in_userns(host_tree, engine, engine_path);
		}
	}
}

/*
 * The joins, in runc's order (libcontainer/nsenter/nsexec.c,
 * join_namespaces): first each namespace but the user one that the caller
 * may join as it is (EPERM: later), then the user namespace, then the rest
 * as its root. So a namespace that the joined user namespace does not own
 * (the host's network namespace, another container's) is joined with the
 * caller's privileges before they are given up, and one that only the
 * user namespace's root may join (a rootless caller's) after.
 */
static void join_namespaces(struct instructions *in, int *host_tree, struct engine *engine, const char *engine_path)
{
	join_pass(in, 0, 1, host_tree, engine, engine_path);
	join_pass(in, 1, 0, host_tree, engine, engine_path);
	join_pass(in, 0, 0, host_tree, engine, engine_path);
}

/* A new user namespace: the parent writes its maps, then the stage becomes its root, as runc does. */
static void make_user_namespace(int *host_tree, struct engine *engine, const char *engine_path)
{
	char line[64];
	if (unshare(CLONE_NEWUSER) < 0)
		fail("unshare user namespace");
	/* An unprivileged parent may write our maps only while we are
	 * dumpable (else our /proc files are root's), as in runc's nsexec. */
	if (*host_tree < 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE)");
	reply("%s", OCIRUN_WORD_USERNS);
	read_line(line, sizeof(line));
	if (strcmp(line, OCIRUN_WORD_MAPS_OK) != 0) {
		errno = EPROTO;
		fail("waiting for the uid/gid maps: got '%.32s'", line);
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE)");
	if (setresgid(0, 0, 0) < 0)
		fail("setresgid 0 in user namespace");
	if (setresuid(0, 0, 0) < 0)
		fail("setresuid 0 in user namespace");
	clone_host_tree_in_userns(host_tree, engine, engine_path);
}

/* The offsets of the time namespace just made, through the file opened before (open_timens_offsets). */
static void write_timens_offsets(struct instructions *in)
{
	if (in->timens_fd < 0)
		return;
	size_t len = strlen(in->timens);
	if (write(in->timens_fd, in->timens, len) != (ssize_t)len)
		fail("write /proc/self/timens_offsets");
	close(in->timens_fd);
	in->timens_fd = -1;
}

/*
 * A detached, writable copy of the host's /proc mount alone, without what
 * is mounted below it: the init's procfs where the kernel refuses it a new
 * instance (src/process/procfs.ts, CVE-2025-52881). It takes the host's
 * privileges, so a rootless caller has none; the init does without. Not
 * for an init that joins a pid namespace (a pod's): there the processes
 * of another container see it while it starts, and one with
 * CAP_SYS_PTRACE could reach the host's sysctls through this fd; that
 * init gets a procfs of its own namespace, or does without.
 */
static int clone_proc(const struct instructions *in)
{
	for (int i = 0; i < in->njoins; i++)
		if (in->join_flags[i] == CLONE_NEWPID)
			return -1;
	return (int)syscall(SYS_open_tree, AT_FDCWD, "/proc", OPEN_TREE_CLONE);
}

/*
 * The stage's "mount-source" mode (argv[2]): the copy of one id-mapped
 * bind's source, made at the mount's turn. The init asks for it once the
 * mounts before it are made (the source may be one of them, inside the
 * rootfs), and cannot make it itself: in a user namespace it has no
 * privilege over the source's filesystem, which MOUNT_ATTR_IDMAP needs.
 * The parent, root on the host, runs the stage so (a multi-threaded
 * process cannot setns into a mount namespace): it joins the init's mount
 * namespace (one "join" of CLONE_NEWNS, /proc/PID/ns/mnt), copies the
 * source there as the helper does (bind_source_tree: the copy keeps the
 * locks of the container's mounts), sends it back with "mount-source-fd
 * <index>" attached (SCM_RIGHTS) and exits; nothing is forked or exec'd.
 * runc 1.3 does the same from a thread of its parent (goCreateMountSources).
 */
static void serve_mount_source(pid_t parent) __attribute__((noreturn));
static void serve_mount_source(pid_t parent)
{
	/* Nothing to answer once the parent is gone (killed while we wait on a
	 * source that does not answer): we go with it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent)
		_exit(1);
	struct instructions in;
	read_instructions(&in);
	if (in.njoins != 1 || in.join_flags[0] != CLONE_NEWNS || in.unshare_flags || in.root_fd >= 0 || in.timens_fd >= 0 || binds.n != 1)
		fail_with(EINVAL, "mount-source: takes one join of a mount namespace and one bind");
	if (setns(in.join_fds[0], CLONE_NEWNS) < 0)
		fail("bind-source %u setns into the container's mount namespace", binds.list[0].index);
	close(in.join_fds[0]);
	int tree = bind_source_tree(&binds.list[0]);
	char line[64];
	int n = snprintf(line, sizeof(line), OCIRUN_WORD_MOUNT_SOURCE_FD " %u\n", binds.list[0].index);
	send_fd(sync_fd, tree, line, (size_t)n);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ocirun-stage SYNC_FD PROGRAM [ARGS...]\n"
				"       ocirun-stage SYNC_FD " OCIRUN_STAGE_MOUNT_SOURCE_MODE "\n"
				"(internal to ocirun; not meant to be run by hand)\n");
		return 2;
	}
	char *e;
	errno = 0;
	long fd = strtol(argv[1], &e, 10);
	if (errno || *e || e == argv[1] || fd < 3 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0) {
		fprintf(stderr, "ocirun-stage: bad sync fd %s\n", argv[1]);
		return 2;
	}
	sync_fd = (int)fd;
	pid_t parent = getppid();
	reexec_sealed(argv);
	close_own_executable_fd();
	/* No other process of the container may ptrace us or open our memory
	 * before we are in it (runc's nsexec does the same). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE)");
	prctl(PR_SET_NAME, (unsigned long)"ocirun:[stage]", 0, 0, 0);
	if (strcmp(argv[2], OCIRUN_STAGE_MOUNT_SOURCE_MODE) == 0)
		serve_mount_source(parent);

	struct instructions in;
	read_instructions(&in);
	/* An id-mapped source is copied at its mount's turn (serve_mount_source),
	 * never before the init runs: its user namespace fd is not the init's. */
	for (int i = 0; i < binds.n; i++)
		if (binds.list[i].flags & BIND_IDMAP)
			fail_with(EINVAL, "bad bind line: an id-mapped source is copied at its turn (mount-source)");
	/* Bind sources: the helper forks here, while the stage is the caller. */
	start_bind_helper();
	/* Before any join: cloning the host's mounts needs the host's privileges,
	 * and so may reaching the engine (a user namespace's root need not be
	 * able to search the directories it is in); it is exec'd by fd. */
	int host_tree = clone_host_tree();
	if (host_tree < 0 && errno != EPERM)
		fail("open_tree / (a copy of the host's mounts for the engine)");
	int proc_fd = clone_proc(&in);
	if (argv[2][0] != '/')
		fail_with(EINVAL, "the engine's path must be absolute");
	/* Before any join: the copy must be made with the caller's ids. */
	struct engine engine = { -1, unreadable_interpreter(argv[2]) };
	if (host_tree >= 0)
		open_engine(&engine, host_tree, argv[2]);

	join_namespaces(&in, &host_tree, &engine, argv[2]);

	if (in.unshare_flags & CLONE_NEWUSER)
		make_user_namespace(&host_tree, &engine, argv[2]);
	if (host_tree < 0) {
		errno = EPERM;
		fail("open_tree / (a copy of the host's mounts for the engine; no privileges over the host's mounts, and no user namespace to gain them in)");
	}
	int in_userns = (in.unshare_flags & CLONE_NEWUSER) != 0;
	for (int i = 0; i < in.njoins; i++)
		in_userns |= in.join_flags[i] == CLONE_NEWUSER;
	if (in_userns)
		refuse_mapped_interpreter(engine.interp, host_tree);
	unsigned long rest = in.unshare_flags & ~(unsigned long)CLONE_NEWUSER;
	if (rest && unshare((int)rest) < 0)
		fail("unshare namespaces %#lx", rest);
	if (rest & CLONE_NEWTIME)
		write_timens_offsets(&in);
	/* Bind sources: copied in the container's mount namespace, now that it exists. */
	collect_bind_sources();
	/* The process's root: "/" of the mount namespace it is now in (a joined
	 * one puts us at its root; a new one is a copy), unless given. */
	if (in.root_fd < 0) {
		in.root_fd = open("/", O_PATH | O_DIRECTORY);
		if (in.root_fd < 0)
			fail("open / of the mount namespace");
	}

	/* CLONE_PARENT: the process is the parent's child, which can wait for
	 * it (run, a foreground exec) or exit and leave it to the caller's
	 * subreaper. The fork is also what enters a joined or new pid namespace. */
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail("clone");
	if (pid > 0) {
		/* The init inherits these fds under the same numbers (not close-on-exec);
		 * the parent passes them on in its plan. */
		reply(OCIRUN_WORD_INIT_FDS " %d %d %d", in.root_fd, proc_fd, engine.interp >= 0 ? engine.fd : -1);
		reply(OCIRUN_WORD_PID " %d", pid);
		_exit(0);
	}

	/* A new session, like runc's init and setns process. */
	if (setsid() < 0)
		fail("setsid");
	prctl(PR_SET_NAME, (unsigned long)"ocirun:[init]", 0, 0, 0);
	real_gid_for_a_nondumpable_exec();
	/* Last: a chrooted process may not unshare a user namespace. The root's
	 * fd stays open, without close-on-exec, for the engine. */
	chroot_to_fd(host_tree, "enter the copy of the host's mounts");
	extern char **environ;
	if (engine.interp >= 0) {
		/* "ld.so PROGRAM ARGS...": the engine, read through its fd (which
		 * the init closes with the others before its program's exec), in
		 * place of argv[1], the sync fd's number, which the init takes
		 * from its environment. */
		char program[32];
		snprintf(program, sizeof(program), "/proc/self/fd/%d", engine.fd);
		if (fcntl(engine.fd, F_SETFD, 0) < 0)
			fail("fcntl F_SETFD (the engine's fd)");
		char *path = argv[2];
		argv[1] = path;
		argv[2] = program;
		syscall(SYS_execveat, engine.interp, "", argv + 1, environ, AT_EMPTY_PATH);
		argv[2] = path;
	} else {
		syscall(SYS_execveat, engine.fd, "", argv + 2, environ, AT_EMPTY_PATH);
	}
	fail("exec %s", argv[2]);
	return 1;
}

/*
 * ocirun-exec-shim: the last program the container's init runs before the
 * user's. The init (on Bun or Node) cannot simply execve() the user's
 * program: if that program is a script whose interpreter is /proc/self/exe,
 * the kernel would start the host's engine binary inside the container
 * with the container's privileges, and a process there could later open it
 * for writing (CVE-2019-5736). So init copies this shim into a sealed memfd and
 * execveat()s it; the shim execve()s the user's program. /proc/self/exe at
 * that moment is the sealed memfd, which nobody can write.
 *
 * It is freestanding (no libc, static, no start-up code) so that it makes no
 * system call besides execve: the seccomp filter is already loaded when it
 * runs, and must not see anything the user's program would not.
 *
 * argv: ["ocirun-exec", path, argv0, argv1, ...]; envp is the process env.
 * Run under any other argv[0] (say, as the interpreter of a container's
 * "#!/proc/self/exe" script) it refuses, rather than exec the script again.
 *
 * argv[0] "ocirun-exec:N:FLAGS" (an exec'd process): fd N is the sync
 * socket to ocirun, which returns once it reads end of file there. The
 * shim makes N close-on-exec, so that end of file comes with the program's
 * execve, not before it (as runc's exec returns once the program runs); if
 * the filter refuses fcntl, it closes N instead. FLAGS, in this order:
 *
 *  w  first a handshake: it writes "shim\n" to N and waits for "go\n".
 *     Meanwhile ocirun moves it into the container's cgroups: only this
 *     single-threaded program joins them, never the engine that set the
 *     process up, whose threads and memory would count against the
 *     container's pids.max and memory limit.
 *  f  then a fork into the container's pid namespace: the engine that set
 *     the process up ran outside it (a process of the container must never
 *     see one that holds anything of the host: its mounts, fds, or
 *     capabilities), and only its last thread entered it, for its children.
 *     The child, already in the container's cgroups and with the process's
 *     credentials, seccomp filter and fds, becomes the program; this shim
 *     writes "pid <child's pid>\n" to N and exits. CLONE_PARENT makes the
 *     child ocirun's, which waits for it (a foreground exec). The child
 *     starts a session of its own, as the process of runc's exec is one.
 *  t  (with f) the child's stdin is the process's terminal: it becomes the
 *     controlling terminal of the child's session (the engine left it
 *     unclaimed, or this shim's exit would hang it up).
 *  a  (with f) the child waits for a second "go\n" before its execve
 *     (no hello: ocirun knows the child from the pid line, which the child
 *     must not overtake): ocirun meanwhile sets the process's scheduling
 *     (process.scheduler) on the child, the process that becomes the
 *     program. Not before the fork: a SCHED_DEADLINE process cannot fork,
 *     and SCHED_RESET_ON_FORK would not reach the child.
 *
 * The strings on N and in argv[0] come from src/process/messages.ts, through
 * the generated ocirun-protocol.h (scripts/build.mjs).
 *
 * Those are the only system calls it makes besides execve.
 */
#include "ocirun-protocol.h"

typedef unsigned long ulong;

static long sys3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_ioctl 16
#define SYS_clone 56
#define SYS_setsid 112
#define SYS_prctl 157
#define PR_SET_DUMPABLE 4
#define TIOCSCTTY 0x540E
#define SYS_fcntl 72
#define F_SETFD 2
#define FD_CLOEXEC 1
#define SYS_execve 59
#define SYS_exit_group 231
#define CLONE_PARENT 0x00008000
#define SIGCHLD 17

static ulong len(const char *s)
{
	ulong n = 0;
	while (s[n])
		n++;
	return n;
}

static void put(long fd, const char *s)
{
	sys3(SYS_write, fd, (long)s, (long)len(s));
}

/* v in decimal, into buf (at least 24 bytes); returns where it starts. */
static char *decimal(long v, char *buf, int size)
{
	int i = size;
	buf[--i] = 0;
	if (v == 0)
		buf[--i] = '0';
	while (v > 0 && i > 0) {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	}
	return buf + i;
}

/*
 * What execve's errno says, in Go's words (lower-case strerror), so that a
 * failed exec reads as runc's: "exec /run.sh: no such file or directory"
 * (runc 1.3.6's run.bats and exec.bats "[execve error]"). NULL for one not
 * listed: the number is printed then.
 */
static const char *errno_text(long err)
{
	switch (err) {
	case 1: return "operation not permitted";
	case 2: return "no such file or directory";
	case 5: return "input/output error";
	case 7: return "argument list too long";
	case 8: return "exec format error";
	case 12: return "cannot allocate memory";
	case 13: return "permission denied";
	case 14: return "bad address";
	case 20: return "not a directory";
	case 21: return "is a directory";
	case 22: return "invalid argument";
	case 24: return "too many open files";
	case 26: return "text file busy";
	case 32: return "broken pipe";
	case 36: return "file name too long";
	case 40: return "too many levels of symbolic links";
	case 71: return "protocol error";
	case 80: return "accessing a corrupted shared library";
	}
	return 0;
}

/* Reads fd until the go; 0 when that went as it should. */
static int wait_for_go(long fd)
{
	static const char go[] = OCIRUN_MSG_GO;
	char buf[sizeof(go) - 1];
	ulong got = 0;
	while (got < sizeof(buf)) {
		long n = sys3(SYS_read, fd, (long)(buf + got), (long)(sizeof(buf) - got));
		if (n == -4) /* EINTR */
			continue;
		if (n <= 0)
			return 32;
		got += (ulong)n;
	}
	for (ulong i = 0; i < sizeof(buf); i++)
		if (buf[i] != go[i])
			return 71; /* EPROTO */
	return 0;
}

/* The hello to fd, then the go; 0 when that went as it should. */
static int handshake(long fd)
{
	static const char hello[] = OCIRUN_MSG_SHIM;
	if (sys3(SYS_write, fd, (long)hello, sizeof(hello) - 1) != (long)sizeof(hello) - 1)
		return 32; /* EPIPE */
	return wait_for_go(fd);
}

/*
 * The fork into the pid namespace: returns in the child (0), or in this
 * process after a failure (the errno); the parent's side reports the
 * child's pid on fd and exits.
 */
static long fork_into_pid_namespace(long fd, int terminal)
{
	/* The child is the container's to see from its birth, and holds the
	 * sync socket until its execve (which makes the program dumpable as
	 * usual): not dumpable till then. A filter that refuses prctl leaves
	 * it as it is; ocirun does not trust what comes on the socket after
	 * the pid anyway. */
	sys3(SYS_prctl, PR_SET_DUMPABLE, 0, 0);
	long pid = sys3(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0);
	if (pid < 0)
		return -pid;
	if (pid == 0) {
		long err = sys3(SYS_setsid, 0, 0, 0);
		if (err >= 0 && terminal)
			err = sys3(SYS_ioctl, 0, TIOCSCTTY, 0);
		return err < 0 ? -err : 0;
	}
	char num[24];
	put(fd, OCIRUN_MSG_PID_PREFIX);
	put(fd, decimal(pid, num, sizeof(num)));
	put(fd, "\n");
	sys3(SYS_exit_group, 0, 0, 0);
	return 0;
}

/* fd N closes with the program's execve (or now, if fcntl is refused). */
static void close_at_exec(long fd)
{
	if (sys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0)
		sys3(SYS_close, fd, 0, 0);
}

/* Whether arg starts with prefix; *rest is left after it. */
static int starts_with(const char *arg, const char *prefix, const char **rest)
{
	ulong i = 0;
	for (; prefix[i]; i++)
		if (arg[i] != prefix[i])
			return 0;
	*rest = arg + i;
	return 1;
}

struct mode {
	int ours;   /* argv[0] is ocirun's marker */
	long fd;    /* the sync socket, or -1 */
	int wait;   /* handshake first */
	int fork;   /* fork into the pid namespace */
	int tty;    /* and claim the terminal there */
	int again;  /* and the child waits for a second go */
};

/* argv[0]: the marker alone, or the marker, ":N:" and the flags (above). */
static struct mode parse_mode(const char *arg)
{
	struct mode m = { 0, -1, 0, 0, 0, 0 };
	const char *p;
	if (!starts_with(arg, OCIRUN_SHIM_ARGV0, &p))
		return m;
	if (*p == 0) {
		m.ours = 1;
		return m;
	}
	if (*p++ != ':')
		return m;
	long fd = 0;
	const char *digits = p;
	for (; *p >= '0' && *p <= '9' && fd < 100000; p++)
		fd = fd * 10 + (*p - '0');
	if (p == digits || *p++ != ':')
		return m;
	if (*p == OCIRUN_SHIM_FLAG_WAIT)
		m.wait = 1, p++;
	if (*p == OCIRUN_SHIM_FLAG_FORK)
		m.fork = 1, p++;
	if (m.fork && *p == OCIRUN_SHIM_FLAG_TTY)
		m.tty = 1, p++;
	if (m.fork && *p == OCIRUN_SHIM_FLAG_AGAIN)
		m.again = 1, p++;
	if (*p)
		return m;
	m.ours = 1;
	m.fd = fd;
	return m;
}

__attribute__((noreturn, used)) void shim_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	long err = 22; /* EINVAL: called without a program, or not by ocirun */
	struct mode m = parse_mode(argc >= 1 ? argv[0] : "");
	/* A failed handshake or fork is said below without a program name. */
	const char *program = argc >= 2 ? argv[1] : "(none)";
	if (m.ours && m.wait) {
		err = handshake(m.fd);
		m.ours = err == 0;
		if (err)
			program = "(none)";
	}
	if (m.ours && m.fork) {
		err = fork_into_pid_namespace(m.fd, m.tty);
		m.ours = err == 0;
		if (err) {
			program = "(none)";
			char num[24];
			put(m.fd, OCIRUN_MSG_ERROR_PREFIX "fork into the container's pid namespace: errno ");
			put(m.fd, decimal(err, num, sizeof(num)));
			put(m.fd, "\n");
		}
	}
	if (m.ours && m.again) {
		err = wait_for_go(m.fd);
		m.ours = err == 0;
		if (err)
			program = "(none)";
	}
	if (m.fd >= 0)
		close_at_exec(m.fd);
	if (m.ours && argc >= 3)
		err = -sys3(SYS_execve, (long)argv[1], (long)(argv + 2), (long)envp);
	put(2, "exec ");
	put(2, program);
	put(2, ": ");
	const char *text = errno_text(err);
	if (text) {
		put(2, text);
	} else {
		char num[24];
		put(2, "errno ");
		put(2, decimal(err, num, sizeof(num)));
	}
	put(2, "\n");
	/* 127 like a shell for a missing program, 126 for any other failure. */
	sys3(SYS_exit_group, err == 2 ? 127 : 126, 0, 0);
	for (;;) {
	}
}

__asm__(".global _start\n"
	"_start:\n"
	"  mov %rsp, %rdi\n"
	"  and $-16, %rsp\n"
	"  call shim_main\n");

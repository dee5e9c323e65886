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
 * argv[0] "ocirun-exec-sync:N" (an exec'd process): fd N is the sync socket
 * to ocirun, which returns once it reads end of file there. The shim makes
 * N close-on-exec, so that end of file comes with the program's execve, not
 * before it (as runc's exec returns once the program runs); if the filter
 * refuses fcntl, it closes N instead.
 *
 * argv[0] "ocirun-exec-wait:N": the same, after a handshake: it writes
 * "shim\n" to N and waits for "go\n". Meanwhile ocirun moves it into the
 * container's cgroups: only this single-threaded program joins them, never
 * the engine that set the process up, whose threads and memory would count
 * against the container's pids.max and memory limit.
 *
 * Those are the only system calls it makes besides execve.
 */
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
#define SYS_fcntl 72
#define F_SETFD 2
#define FD_CLOEXEC 1
#define SYS_execve 59
#define SYS_exit_group 231

static ulong len(const char *s)
{
	ulong n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	sys3(SYS_write, 2, (long)s, (long)len(s));
}

static void digits(long v)
{
	char buf[24];
	int i = sizeof(buf);
	buf[--i] = 0;
	if (v == 0)
		buf[--i] = '0';
	while (v > 0 && i > 0) {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	}
	say(buf + i);
}

/* "shim\n" to fd, then read until "go\n"; 0 when that went as it should. */
static int handshake(long fd)
{
	static const char hello[] = "shim\n";
	if (sys3(SYS_write, fd, (long)hello, sizeof(hello) - 1) != (long)sizeof(hello) - 1)
		return 32; /* EPIPE */
	char buf[3];
	ulong got = 0;
	while (got < sizeof(buf)) {
		long n = sys3(SYS_read, fd, (long)(buf + got), (long)(sizeof(buf) - got));
		if (n == -4) /* EINTR */
			continue;
		if (n <= 0)
			return 32;
		got += (ulong)n;
	}
	return buf[0] == 'g' && buf[1] == 'o' && buf[2] == '\n' ? 0 : 71; /* EPROTO */
}

/* fd N closes with the program's execve (or now, if fcntl is refused). */
static void close_at_exec(long fd)
{
	if (sys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0)
		sys3(SYS_close, fd, 0, 0);
}

/* The N of "<marker>N" in arg, or -1 when arg is not that. */
static long marked_fd(const char *arg, const char *marker)
{
	ulong i = 0;
	for (; marker[i]; i++)
		if (arg[i] != marker[i])
			return -1;
	const char *p = arg + i;
	long fd = 0;
	for (; *p >= '0' && *p <= '9' && fd < 100000; p++)
		fd = fd * 10 + (*p - '0');
	return *p == 0 && p != arg + i ? fd : -1;
}

__attribute__((noreturn, used)) void shim_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	static const char marker[] = "ocirun-exec";
	long err = 22; /* EINVAL: called without a program, or not by ocirun */
	int ours = argc >= 1;
	for (ulong i = 0; ours && i < sizeof(marker); i++)
		if (argv[0][i] != marker[i])
			ours = 0;
	long sync_fd = argc >= 1 ? marked_fd(argv[0], "ocirun-exec-sync:") : -1;
	long wait_fd = argc >= 1 ? marked_fd(argv[0], "ocirun-exec-wait:") : -1;
	if (sync_fd >= 0) {
		close_at_exec(sync_fd);
		ours = 1;
	} else if (wait_fd >= 0) {
		err = handshake(wait_fd);
		close_at_exec(wait_fd);
		ours = err == 0;
		if (!ours)
			argc = 0; /* say why below, without a program name */
	}
	if (ours && argc >= 3)
		err = -sys3(SYS_execve, (long)argv[1], (long)(argv + 2), (long)envp);
	say("ocirun: exec ");
	say(argc >= 2 ? argv[1] : "(none)");
	say(": errno ");
	digits(err);
	say("\n");
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

/*
 * ocirun-stage exec: start a new process in a running container.
 *
 * For create, the C stage only makes namespaces and the rest of the setup
 * is Node. For exec that is impossible: once this process has joined the
 * container's mount namespace, the host's node binary, its libraries and
 * ocirun's scripts are out of reach (and must stay so: CVE-2019-5736). So
 * the parent works everything out in advance (capability masks, the seccomp
 * filter compiled by libseccomp into BPF, ids, rlimits, the environment) and
 * this stage applies it in the order of runc's setns init, holding no
 * policy of its own.
 *
 * Protocol on the sync socket, parent -> stage, one instruction per line:
 *   affinity <initial|final> <cpu,...>    sched_setaffinity before / after the cgroup join
 *   cgroup <path of a cgroup.procs file>  joined first, while host paths resolve
 *   oom <score>                           while /proc/self is the host's
 *   root <path>                           opened now; after the joins, the process's root
 *                                         (a container without a mount namespace of its own)
 *   join <hexflag> <path>                 in order, user first, mount last
 *   rlimit <resource> <soft> <hard>       decimal; 18446744073709551615 = unlimited
 *   personality <hex>                     personality(2) for the program
 *   ioprio <value>                        ioprio_set(2): class << 13 | level
 *   sched <96 hex digits>                 struct sched_attr for sched_setattr(2)
 *   keyring <name>                        the container's session keyring, joined in its user namespace
 *   user <uid> <gid> [gid,gid,...]
 *   umask <octal>
 *   caps <last cap> <bounding> <effective> <permitted> <inheritable> <ambient>  (hex masks)
 *   nnp
 *   console <fd of the console socket> <rows> <cols>
 *   label selinux <label>                 SELinux label for the program's exec
 *   label apparmor exec <profile>         AppArmor profile for the program's exec
 *   cwd <path>
 *   keep <n>                              fds 0..n-1 reach the program
 *   seccomp <flags> <count>               then count * 8 bytes of BPF
 *   notify <fd>                           where the listener fd of the filter goes (SCMP_ACT_NOTIFY)
 *   argv <bytes>                          then that many bytes of NUL-ended strings
 *   env <bytes>                           same
 *   end
 * stage -> parent: "pid <pid>" once the process exists (it is the parent's
 * child: CLONE_PARENT), "error <step>: <strerror> (errno N)" on failure. The
 * socket is close-on-exec in the process, so EOF means the program runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <grp.h>
#include <termios.h>
#include <unistd.h>

#include "stage.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define MAX_LIST 64

struct exec_plan {
	char *cgroups[MAX_LIST];
	int ncgroups;
	char *joins[MAX_LIST];
	unsigned long join_flags[MAX_LIST];
	int njoins;
	int root_fd;
	int has_oom;
	char oom[32];
	struct {
		int resource;
		struct rlimit limit;
	} rlimits[MAX_LIST];
	int nrlimits;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_LIST];
	int ngroups;
	int has_umask;
	mode_t umask;
	int has_caps;
	int last_cap;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int nnp;
	int console_fd;
	int notify_fd;
	unsigned short rows, cols;
	char *keyring;
	int has_initial_cpus, has_final_cpus;
	cpu_set_t initial_cpus, final_cpus;
	int has_sched;
	unsigned char sched_attr[48];
	int has_ioprio;
	int ioprio;
	int has_personality;
	unsigned long persona;
	char *selinux_label;
	char *apparmor_exec;
	char *cwd;
	int keep;
	unsigned int seccomp_flags;
	struct sock_filter *filter;
	unsigned short filter_len;
	char **argv;
	char **envp;
};

static void read_exact(void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t r = read(sync_fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			fail("read sync socket");
		}
		p += r;
		len -= r;
	}
}

/* Reads `bytes` of NUL-ended strings into a NULL-ended vector. */
static char **read_strings(size_t bytes)
{
	char *data = malloc(bytes + 1);
	if (!data)
		fail("malloc");
	read_exact(data, bytes);
	data[bytes] = 0;
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		n += data[i] == 0;
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		fail("malloc");
	size_t k = 0;
	for (char *s = data; s < data + bytes && k < n; s += strlen(s) + 1)
		v[k++] = s;
	return v;
}

static void too_many(const char *what)
{
	errno = E2BIG;
	fail("too many %s instructions", what);
}

static void read_plan(struct exec_plan *p)
{
	char line[8192];
	memset(p, 0, sizeof(*p));
	p->console_fd = -1;
	p->notify_fd = -1;
	p->root_fd = -1;
	for (;;) {
		read_line(line, sizeof(line));
		char *arg = strchr(line, ' ');
		if (arg)
			*arg++ = 0;
		else
			arg = line + strlen(line);
		if (strcmp(line, "end") == 0) {
			break;
		} else if (strcmp(line, "cgroup") == 0) {
			if (p->ncgroups == MAX_LIST)
				too_many("cgroup");
			p->cgroups[p->ncgroups++] = strdup(arg);
		} else if (strcmp(line, "oom") == 0) {
			p->has_oom = 1;
			snprintf(p->oom, sizeof(p->oom), "%s", arg);
		} else if (strcmp(line, "root") == 0) {
			p->root_fd = open(arg, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (p->root_fd < 0)
				fail("open container root %s", arg);
		} else if (strcmp(line, "join") == 0) {
			if (p->njoins == MAX_LIST)
				too_many("join");
			p->joins[p->njoins] = strdup(parse_join(arg, &p->join_flags[p->njoins]));
			p->njoins++;
		} else if (strcmp(line, "rlimit") == 0) {
			unsigned long long soft, hard;
			int res;
			if (p->nrlimits == MAX_LIST)
				too_many("rlimit");
			if (sscanf(arg, "%d %llu %llu", &res, &soft, &hard) != 3) {
				errno = EINVAL;
				fail("bad rlimit line");
			}
			p->rlimits[p->nrlimits].resource = res;
			p->rlimits[p->nrlimits].limit.rlim_cur = soft;
			p->rlimits[p->nrlimits].limit.rlim_max = hard;
			p->nrlimits++;
		} else if (strcmp(line, "user") == 0) {
			char *end;
			p->uid = strtoul(arg, &end, 10);
			p->gid = strtoul(end, &end, 10);
			while (*end == ' ' || *end == ',') {
				if (end[1] == 0)
					break;
				if (p->ngroups == MAX_LIST)
					too_many("group");
				p->groups[p->ngroups++] = strtoul(end + 1, &end, 10);
			}
		} else if (strcmp(line, "umask") == 0) {
			p->has_umask = 1;
			p->umask = strtoul(arg, NULL, 8);
		} else if (strcmp(line, "caps") == 0) {
			p->has_caps = 1;
			unsigned long long b, e, pe, i, a;
			if (sscanf(arg, "%d %llx %llx %llx %llx %llx", &p->last_cap, &b, &e, &pe, &i, &a) != 6) {
				errno = EINVAL;
				fail("bad caps line");
			}
			p->bounding = b, p->effective = e, p->permitted = pe, p->inheritable = i, p->ambient = a;
		} else if (strcmp(line, "nnp") == 0) {
			p->nnp = 1;
		} else if (strcmp(line, "console") == 0) {
			if (sscanf(arg, "%d %hu %hu", &p->console_fd, &p->rows, &p->cols) != 3) {
				errno = EINVAL;
				fail("bad console line");
			}
		} else if (strcmp(line, "affinity") == 0) {
			/* "initial 0,2,3" or "final 1": CPU numbers, expanded by the parent. */
			int final = strncmp(arg, "final ", 6) == 0;
			if (!final && strncmp(arg, "initial ", 8) != 0) {
				errno = EINVAL;
				fail("bad affinity line");
			}
			cpu_set_t *set = final ? &p->final_cpus : &p->initial_cpus;
			CPU_ZERO(set);
			for (char *c = arg + (final ? 6 : 8); *c;) {
				char *end;
				unsigned long cpu = strtoul(c, &end, 10);
				if (end == c || cpu >= CPU_SETSIZE) {
					errno = EINVAL;
					fail("bad affinity line");
				}
				CPU_SET(cpu, set);
				c = *end == ',' ? end + 1 : end;
			}
			if (final)
				p->has_final_cpus = 1;
			else
				p->has_initial_cpus = 1;
		} else if (strcmp(line, "sched") == 0) {
			if (strlen(arg) != 96) {
				errno = EINVAL;
				fail("bad sched line");
			}
			for (int i = 0; i < 48; i++)
				sscanf(arg + 2 * i, "%2hhx", &p->sched_attr[i]);
			p->has_sched = 1;
		} else if (strcmp(line, "ioprio") == 0) {
			p->has_ioprio = 1;
			p->ioprio = atoi(arg);
		} else if (strcmp(line, "personality") == 0) {
			p->has_personality = 1;
			p->persona = strtoul(arg, NULL, 16);
		} else if (strcmp(line, "keyring") == 0) {
			p->keyring = strdup(arg);
		} else if (strcmp(line, "label") == 0) {
			if (strncmp(arg, "selinux ", 8) == 0) {
				p->selinux_label = strdup(arg + 8);
			} else if (strncmp(arg, "apparmor ", 9) == 0) {
				p->apparmor_exec = strdup(arg + 9);
			} else {
				errno = EINVAL;
				fail("bad label line");
			}
		} else if (strcmp(line, "notify") == 0) {
			p->notify_fd = atoi(arg);
		} else if (strcmp(line, "cwd") == 0) {
			p->cwd = strdup(arg);
		} else if (strcmp(line, "keep") == 0) {
			p->keep = atoi(arg);
		} else if (strcmp(line, "seccomp") == 0) {
			unsigned int count;
			if (sscanf(arg, "%u %u", &p->seccomp_flags, &count) != 2 || count == 0 || count > BPF_MAXINSNS) {
				errno = EINVAL;
				fail("bad seccomp line");
			}
			p->filter = calloc(count, sizeof(struct sock_filter));
			if (!p->filter)
				fail("malloc");
			read_exact(p->filter, count * sizeof(struct sock_filter));
			p->filter_len = (unsigned short)count;
		} else if (strcmp(line, "argv") == 0) {
			p->argv = read_strings(strtoul(arg, NULL, 10));
		} else if (strcmp(line, "env") == 0) {
			p->envp = read_strings(strtoul(arg, NULL, 10));
		} else {
			errno = EINVAL;
			fail("unknown instruction '%.64s'", line);
		}
	}
	if (!p->argv || !p->argv[0] || !p->envp || !p->cwd) {
		errno = EINVAL;
		fail("incomplete exec plan");
	}
}

/* Sends `fd` with SCM_RIGHTS over a connected unix socket, `payload` as the data. */
static void send_fd(int sock, int fd, const char *payload, const char *what)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0)
		fail("%s", what);
}

/* A pty from the container's devpts; the master goes to the console socket. */
static void setup_console(struct exec_plan *p)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail("console: open /dev/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail("console: unlock pty");
	unsigned int n;
	if (ioctl(master, TIOCGPTN, &n) < 0)
		fail("console: pty number");
	if (p->rows || p->cols) {
		struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			fail("console: set window size");
	}
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail("console: open pty slave");

	char name[64];
	snprintf(name, sizeof(name), "/dev/pts/%u", n);
	send_fd(p->console_fd, master, name, "console: send pty master to the console socket");
	close(master);
	close(p->console_fd);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			fail("console: dup2 pty slave");
	if (slave > 2)
		close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail("console: set controlling terminal");
}

static void apply_caps(struct exec_plan *p)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)p->effective, (uint32_t)p->permitted, (uint32_t)p->inheritable },
		{ (uint32_t)(p->effective >> 32), (uint32_t)(p->permitted >> 32), (uint32_t)(p->inheritable >> 32) },
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail("set capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail("clear ambient capabilities");
	for (int bit = 0; bit <= p->last_cap && bit < 64; bit++)
		if ((p->ambient >> bit) & 1)
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, bit, 0, 0) < 0)
				fail("raise ambient capability %d", bit);
}

static void load_seccomp(struct exec_plan *p)
{
	struct sock_fprog prog = { .len = p->filter_len, .filter = p->filter };
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog);
	if (r < 0)
		fail("load seccomp filter");
	/* SCMP_ACT_NOTIFY: the filter was loaded with NEW_LISTENER; the parent hands its fd to the agent. */
	if (p->notify_fd >= 0) {
		send_fd(p->notify_fd, (int)r, "seccompFd", "send seccomp notify fd");
		close((int)r);
		close(p->notify_fd);
	}
}

static int is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* Go's exec.LookPath, which runc uses: PATH from the process's environment. */
static const char *look_path(struct exec_plan *p)
{
	const char *file = p->argv[0];
	if (strchr(file, '/')) {
		errno = 0;
		if (!is_executable(file)) {
			if (errno == 0)
				errno = EACCES;
			fail("exec: \"%s\"", file);
		}
		return file;
	}
	const char *path = "";
	for (char **e = p->envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	static char candidate[4096];
	for (const char *dir = path;;) {
		const char *colon = strchr(dir, ':');
		size_t len = colon ? (size_t)(colon - dir) : strlen(dir);
		if (len == 0)
			snprintf(candidate, sizeof(candidate), "./%s", file);
		else
			snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, dir, file);
		if (is_executable(candidate))
			return candidate;
		if (!colon)
			break;
		dir = colon + 1;
	}
	errno = ENOENT;
	fail("exec: \"%s\": executable file not found in $PATH", file);
}

/* Everything above `keep` (the sync socket among them) closes on exec (CVE-2024-21626). */
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/*
 * Writes an LSM label to /proc/self/attr/... for the next execve, only if
 * the file really is on procfs (a container's /proc could be anything).
 * Returns -1 with errno ENOENT when the file does not exist.
 */
static int write_attr(const char *path, const char *value)
{
	struct statfs sfs;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		errno = EXDEV;
		fail("%s is not on procfs", path);
	}
	size_t len = strlen(value);
	if (write(fd, value, len) != (ssize_t)len)
		fail("write %s", path);
	close(fd);
	return 0;
}

static void apply_selinux_label(struct exec_plan *p)
{
	if (p->selinux_label && write_attr("/proc/self/attr/exec", p->selinux_label) < 0)
		fail("apply SELinux label: /proc/self/attr/exec");
}

/* Newer kernels have a per-LSM directory; the shared file is the old convention. */
static void apply_apparmor_profile(struct exec_plan *p)
{
	if (!p->apparmor_exec)
		return;
	if (write_attr("/proc/self/attr/apparmor/exec", p->apparmor_exec) == 0)
		return;
	if (errno != ENOENT || write_attr("/proc/self/attr/exec", p->apparmor_exec) < 0)
		fail("apply AppArmor profile");
}

static void cloexec_from(int keep)
{
	if (syscall(SYS_close_range, keep, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (int fd = keep; fd < 4096; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* In the container's namespaces: runc's linuxSetnsInit.Init, step by step. */
static void finish_in_container(struct exec_plan *p)
{
	if (setsid() < 0)
		fail("setsid");
	if (p->console_fd >= 0)
		setup_console(p);
	for (int i = 0; i < p->nrlimits; i++)
		if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].limit) < 0)
			fail("setrlimit %d", p->rlimits[i].resource);
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("no_new_privs");
	/* runc's setns init: the container's keyring, not the caller's (ENOSYS: no keyrings here). */
	if (p->keyring && syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, p->keyring) < 0 && errno != ENOSYS)
		fail("join session keyring %s", p->keyring);
	if (p->has_sched && syscall(SYS_sched_setattr, 0, p->sched_attr, 0) < 0)
		fail("sched_setattr");
	if (p->has_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->ioprio) < 0)
		fail("ioprio_set %d", p->ioprio);
	if (p->has_personality && personality(p->persona) < 0)
		fail("personality 0x%lx", p->persona);
	apply_selinux_label(p);
	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the drop. */
	if (p->filter && !p->nnp)
		load_seccomp(p);
	if (p->has_caps)
		for (int bit = 0; bit <= p->last_cap && bit < 64; bit++)
			if (!((p->bounding >> bit) & 1) && prctl(PR_CAPBSET_DROP, bit, 0, 0, 0) < 0)
				fail("drop bounding capability %d", bit);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail("keep capabilities");
	/* In a user namespace whose setgroups is "deny", an empty list is fine as it is. */
	if (setgroups(p->ngroups, p->groups) < 0 && !(errno == EPERM && p->ngroups == 0))
		fail("setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		fail("setresgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		fail("setresuid %u", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail("keep capabilities");
	if (chdir(p->cwd) < 0)
		fail("chdir to cwd (\"%s\") set in config.json", p->cwd);
	if (p->has_caps)
		apply_caps(p);
	if (p->has_umask)
		umask(p->umask);
	/* runc's setns init: after finalizeNamespace, before the last seccomp. */
	apply_apparmor_profile(p);
	const char *program = look_path(p);
	cloexec_from(p->keep);
	if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0)
		fail("close-on-exec sync socket");
	/* With no_new_privs the filter goes last, so it constrains nothing of ours. */
	if (p->filter && p->nnp)
		load_seccomp(p);
	execve(program, p->argv, p->envp);
	fail("exec %s", program);
}

void exec_stage(void)
{
	struct exec_plan p;
	read_plan(&p);
	char self[32];
	snprintf(self, sizeof(self), "%d", getpid());
	/* process.execCPUAffinity: initial before the cgroup join, final after it. */
	if (p.has_initial_cpus && sched_setaffinity(0, sizeof(p.initial_cpus), &p.initial_cpus) < 0)
		fail("set initial CPU affinity");
	for (int i = 0; i < p.ncgroups; i++)
		write_file(p.cgroups[i], self);
	if (p.has_final_cpus && sched_setaffinity(0, sizeof(p.final_cpus), &p.final_cpus) < 0)
		fail("set final CPU affinity");
	if (p.has_oom)
		write_file("/proc/self/oom_score_adj", p.oom);
	for (int i = 0; i < p.njoins; i++)
		join_namespace(p.join_flags[i], p.joins[i]);
	/* No mount namespace to join: the init was chrooted into the rootfs, and
	 * so is this process (runc's exec would leave it at the host's /). */
	if (p.root_fd >= 0)
		chroot_to_fd(p.root_fd, "enter the container's root");
	/* The fork puts the process in the pid (and time) namespace joined above. */
	fork_for_parent("exec process");
	prctl(PR_SET_NAME, (unsigned long)"ocirun:[exec]", 0, 0, 0);
	finish_in_container(&p);
	_exit(1);
}

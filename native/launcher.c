/*
 * bin/ocirun: starts ocirun on its JavaScript engine.
 *
 * ocirun is TypeScript. Its engine is Bun, pinned in package.json: the
 * build makes build/ocirun, Bun's standalone executable with all of ocirun
 * inside, precompiled, and this program execs it. With OCIRUN_ENGINE=node
 * (or where build/ocirun is missing) it runs the bundled CLI, dist/bundle,
 * on Node instead. A script's "#!" line cannot name a binary relative to
 * the script, so this small program finds the package it belongs to from
 * /proc/self/exe (npm links bin/ocirun from its bin directory; the kernel
 * resolves the link). It holds no logic of ocirun's own.
 *
 * The init of a container starts the same way, on the parent's engine: the
 * C stage runs the engine with _OCIRUN_ROLE=init (src/engine.ts), and this
 * program, for Node, runs the init's bundle instead of the CLI's.
 *
 * Before the engine starts it records which signals the caller left
 * ignored ($_OCIRUN_SIGIGN): both engines ignore SIGPIPE themselves, and a
 * container's program must inherit the caller's dispositions, not theirs.
 * Node parses $NODE_EXTRA_CA_CERTS at start-up (~30 ms); ocirun makes no
 * TLS connection, so it is dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int is_elf(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char magic[4] = { 0 };
	size_t n = fread(magic, 1, 4, f);
	fclose(f);
	return n == 4 && memcmp(magic, "\177ELF", 4) == 0 && access(path, X_OK) == 0;
}

static void record_ignored_signals(void)
{
	unsigned long long mask = 0;
	for (int sig = 1; sig <= 64; sig++) {
		struct sigaction old;
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			mask |= 1ULL << (sig - 1);
	}
	char hex[17];
	snprintf(hex, sizeof(hex), "%llx", mask);
	setenv("_OCIRUN_SIGIGN", hex, 1);
}

int main(int argc, char **argv)
{
	char root[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", root, sizeof(root) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(root) - 1) {
		fprintf(stderr, "ocirun: cannot find its own path (/proc/self/exe): %s\n", strerror(errno));
		return 1;
	}
	root[n] = 0;
	/* <root>/bin/ocirun */
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(root, '/');
		if (!slash || slash == root) {
			fprintf(stderr, "ocirun: %s is not in a package's bin directory\n", root);
			return 1;
		}
		*slash = 0;
	}
	const char *engine = getenv("OCIRUN_ENGINE");
	if (engine && *engine && strcmp(engine, "bun") != 0 && strcmp(engine, "node") != 0) {
		fprintf(stderr, "ocirun: OCIRUN_ENGINE=%s: the engine must be bun or node\n", engine);
		return 1;
	}
	int want_node = engine && strcmp(engine, "node") == 0;
	const char *role = getenv("_OCIRUN_ROLE");
	int is_init = role && strcmp(role, "init") == 0;
	if (!is_init)
		record_ignored_signals();

	/* The single file, which knows both roles. */
	char single[PATH_MAX];
	if (!want_node) {
		if (snprintf(single, sizeof(single), "%s/build/ocirun", root) < (int)sizeof(single) && is_elf(single)) {
			/* argv[0] stays the name we were called by (see invokedAs in src/cli/args.ts). */
			execv(single, argv);
			fprintf(stderr, "ocirun: exec %s: %s\n", single, strerror(errno));
			return 1;
		}
		if (engine) {
			fprintf(stderr, "ocirun: OCIRUN_ENGINE=bun, but %s/build/ocirun is missing: run npm install (it builds it)\n", root);
			return 1;
		}
	}

	char entry[PATH_MAX];
	const char *bundle = is_init ? "init-main.js" : "ocirun.js";
	if (snprintf(entry, sizeof(entry), "%s/dist/bundle/%s", root, bundle) >= (int)sizeof(entry) || access(entry, R_OK) != 0) {
		fprintf(stderr, "ocirun: %s/dist/bundle/%s is missing: run npm install (it builds dist/)\n", root, bundle);
		return 1;
	}
	char **args = calloc(argc + 2, sizeof(char *));
	if (!args)
		return 1;
	unsetenv("NODE_EXTRA_CA_CERTS");
	args[0] = argv[0];
	args[1] = entry;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execvp("node", args);
	fprintf(stderr, "ocirun: exec node: %s\n", strerror(errno));
	return 1;
}

/*
 * bin/ocirun: starts ocirun's command line on its JavaScript engine.
 *
 * ocirun is TypeScript; the engine is Bun, pinned as a dependency in
 * node_modules, or Node with OCIRUN_ENGINE=node (or where no Bun binary is
 * installed or it cannot be executed). A script's "#!" line cannot name a
 * binary relative to the script, so this small program finds the package it
 * belongs to from /proc/self/exe (npm links bin/ocirun from its bin
 * directory; the kernel resolves the link), finds the engine there, and
 * execs it on the bundled CLI. It holds no logic of ocirun's own.
 *
 * The container's init starts the same way, on the parent's engine: the C
 * stage runs this program with _OCIRUN_ROLE=init and OCIRUN_ENGINE set
 * (src/engine.ts), and it runs the init's bundle instead of the CLI's.
 *
 * Before the engine starts it records which signals the caller left
 * ignored ($_OCIRUN_SIGIGN): both engines ignore SIGPIPE themselves, and a
 * container's program must inherit the caller's dispositions, not theirs.
 *
 * Bun reads .env files and bunfig.toml (which can preload code) from the
 * current directory, and may try to install missing packages; ocirun may
 * be run from any directory, a bundle's among them, so all three are off.
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

static const char *BUN_FLAGS[] = { "--no-env-file", "--config=/dev/null", "--no-install" };
#define NBUN_FLAGS (sizeof(BUN_FLAGS) / sizeof(BUN_FLAGS[0]))

/* Where npm puts Bun's binary: the platform package, or the postinstall's copy. */
static const char *BUN_PATHS[] = { "node_modules/@oven/bun-linux-x64/bin/bun", "node_modules/bun/bin/bun.exe" };

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

/* Bun in the package's node_modules, or hoisted into an enclosing one. */
static int find_bun(const char *root, char *out, size_t size)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir))
		return 0;
	for (;;) {
		for (size_t i = 0; i < sizeof(BUN_PATHS) / sizeof(BUN_PATHS[0]); i++) {
			if (snprintf(out, size, "%s/%s", dir, BUN_PATHS[i]) < (int)size && is_elf(out))
				return 1;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return 0;
		*slash = 0;
	}
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
	const char *role = getenv("_OCIRUN_ROLE");
	const char *bundle = role && strcmp(role, "init") == 0 ? "init-main.js" : "ocirun.js";
	char entry[PATH_MAX];
	if (snprintf(entry, sizeof(entry), "%s/dist/bundle/%s", root, bundle) >= (int)sizeof(entry) || access(entry, R_OK) != 0) {
		fprintf(stderr, "ocirun: %s/dist/bundle/%s is missing: run npm install (it builds dist/)\n", root, bundle);
		return 1;
	}
	if (bundle[0] == 'o')
		record_ignored_signals();

	char **args = calloc(argc + NBUN_FLAGS + 2, sizeof(char *));
	if (!args)
		return 1;
	const char *engine = getenv("OCIRUN_ENGINE");
	if (engine && *engine && strcmp(engine, "bun") != 0 && strcmp(engine, "node") != 0) {
		fprintf(stderr, "ocirun: OCIRUN_ENGINE=%s: the engine must be bun or node\n", engine);
		return 1;
	}
	if (!engine || strcmp(engine, "node") != 0) {
		char bun[PATH_MAX];
		if (find_bun(root, bun, sizeof(bun))) {
			int k = 0;
			args[k++] = bun;
			for (size_t i = 0; i < NBUN_FLAGS; i++)
				args[k++] = (char *)BUN_FLAGS[i];
			args[k++] = entry;
			for (int i = 1; i < argc; i++)
				args[k++] = argv[i];
			execv(bun, args);
			if (engine && strcmp(engine, "bun") == 0) {
				fprintf(stderr, "ocirun: exec %s: %s\n", bun, strerror(errno));
				return 1;
			}
		} else if (engine && strcmp(engine, "bun") == 0) {
			fprintf(stderr, "ocirun: OCIRUN_ENGINE=bun, but no Bun binary is installed under %s/node_modules\n", root);
			return 1;
		}
	}
	unsetenv("NODE_EXTRA_CA_CERTS");
	args[0] = "node";
	args[1] = entry;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	args[argc + 1] = NULL;
	execvp("node", args);
	fprintf(stderr, "ocirun: no JavaScript engine: no Bun under %s/node_modules, and exec node: %s\n", root, strerror(errno));
	return 1;
}

/* supervisor: the parent process of the worker pool.
 *
 * Keeps KEYROTA_WORKERS workers alive: a worker that dies is replaced at
 * once, then with growing delays (up to 30 s) while replacements keep dying
 * young; a worker that exits after reaching its recycle limit is replaced
 * without delay; it tells the supervisor first (SUPERVISOR_RECYCLE_SIGNAL), so
 * its replacement is started before it drains. SIGTERM/SIGINT drain the
 * pool and exit 0; SIGHUP reads the key files again and starts a fresh
 * generation of workers with them, while the old one drains with the keys
 * it had (README, "Rotating keys"). Key files that cannot be read keep
 * the running generation as it is.
 *
 * Started as root, the supervisor stays root, as nginx's master does, so
 * that it can read root-only key files again; it never reads a request.
 * Each worker gives up root for good right after it is forked. */
#ifndef KEYROTA_SUPERVISOR_H
#define KEYROTA_SUPERVISOR_H

#include <signal.h>
#include <sys/types.h>

/* A worker about to recycle sends this to the supervisor: a realtime
 * signal, so several at once are all delivered, each with its sender. */
#define SUPERVISOR_RECYCLE_SIGNAL (SIGRTMIN + 1)

struct config;
struct worker_secrets;

/* The unprivileged user every worker becomes. */
struct run_as {
	uid_t uid;
	gid_t gid;
	char  name[64];
};

/* Runs the pool on listen_fd until stopped; returns the exit status. sec
 * is replaced on SIGHUP; as is NULL when keyrota was not started as root. */
int supervisor_run(const struct config *cfg, struct worker_secrets *sec,
        const struct run_as *as, int listen_fd);

#endif

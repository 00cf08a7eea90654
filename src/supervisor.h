/* supervisor: the parent process of the worker pool.
 *
 * Keeps KEYROTA_WORKERS workers alive: a worker that dies is replaced at
 * once, then with growing delays (up to 30 s) while replacements keep dying
 * young; a worker that exits after reaching its recycle limit is replaced
 * without delay; it tells the supervisor first (SUPERVISOR_RECYCLE_SIGNAL), so
 * its replacement is started before it drains. SIGTERM/SIGINT drain the pool and exit 0; SIGHUP starts a
 * fresh generation of workers and drains the old one. */
#ifndef KEYROTA_SUPERVISOR_H
#define KEYROTA_SUPERVISOR_H

#include <signal.h>

/* A worker about to recycle sends this to the supervisor: a realtime
 * signal, so several at once are all delivered, each with its sender. */
#define SUPERVISOR_RECYCLE_SIGNAL (SIGRTMIN + 1)

struct config;
struct worker_secrets;

/* Runs the pool on listen_fd until stopped; returns the exit status. */
int supervisor_run(const struct config *cfg, const struct worker_secrets *sec,
        int listen_fd);

#endif

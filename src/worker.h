/* worker: one worker process of the pool.
 *
 * KEYROTA_THREADS threads each accept FastCGI requests on the shared
 * listening socket (blocking accept: the kernel wakes one waiter per
 * connection, so there is no thundering herd) and answer them. The main
 * thread waits for SIGTERM/SIGINT (drain) or for the recycle limit, then
 * wakes the accept threads and waits for in-flight requests to finish.
 *
 * A request that waits on the model is parked: its accept thread goes
 * back to accepting, and the process's loop thread (loop.h) finishes it.
 * Requests in flight are therefore bounded by memory, not by threads or
 * database connections. */
#ifndef KEYROTA_WORKER_H
#define KEYROTA_WORKER_H

#include "fingerprint.h"
#include "secret.h"

struct config;

/* The key files' contents (the model's headers file included), read by the supervisor at start and again on
 * SIGHUP; each generation of workers inherits the copy it was forked with. */
struct worker_secrets {
	struct fingerprint_key fingerprint;
	struct model_secrets   model;      /* key and headers file */
};

/* Reads every key file cfg names into sec. On error returns -1 with err
 * naming the variable; sec is then wiped. */
int worker_secrets_load(const struct config *cfg, struct worker_secrets *sec,
        char *err, size_t errlen);

/* Exit statuses the supervisor reads. */
enum {
	WORKER_EXIT_DRAINED   = 0,   /* asked to stop, or recycled */
	WORKER_EXIT_FAILED    = 1,   /* could not start */
	WORKER_EXIT_ABANDONED = 3,   /* drain deadline passed */
};

/* Runs a worker until it is asked to stop; returns its exit status. */
int worker_main(const struct config *cfg, const struct worker_secrets *sec,
        int listen_fd);

#endif

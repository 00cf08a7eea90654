/* worker: one worker process of the pool.
 *
 * KEYROTA_THREADS threads each accept FastCGI requests on the shared
 * listening socket (blocking accept: the kernel wakes one waiter per
 * connection, so there is no thundering herd) and answer them. The main
 * thread waits for SIGTERM/SIGINT (drain) or for the recycle limit, then
 * wakes the accept threads and waits for in-flight requests to finish. */
#ifndef KEYROTA_WORKER_H
#define KEYROTA_WORKER_H

struct config;

/* Exit statuses the supervisor reads. */
enum {
	WORKER_EXIT_DRAINED   = 0,   /* asked to stop, or recycled */
	WORKER_EXIT_FAILED    = 1,   /* could not start */
	WORKER_EXIT_ABANDONED = 3,   /* drain deadline passed */
};

/* Runs a worker until it is asked to stop; returns its exit status. */
int worker_main(const struct config *cfg, int listen_fd);

#endif

#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "alloc.h"
#include "app.h"
#include "clock.h"
#include "config.h"
#include "db_pool.h"
#include "decide.h"
#include "executor.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "genai.h"
#include "otlp.h"
#include "pages.h"
#include "provider.h"
#include "reaper.h"
#include "retry.h"
#include "supervisor.h"
#include "store_traces.h"
#include "worker.h"

/* Interrupts a blocked accept(); the handler itself does nothing. */
#define WAKE_SIGNAL SIGUSR1
/* Accept threads kept free of database waits: /healthz and the decisions
 * (whose database steps run on the executor) never queue behind them. */
#define THREADS_FREE_OF_DB 2
/* A drain waits at least this long for requests that are not decisions
 * (their database waits are bounded by DB_HOLD_MS). */
#define DRAIN_MIN_MS (DB_HOLD_MS + 4000)
/* accept() out of descriptors: the connection stays queued in the
 * backlog, and retrying at once would only spin. The pause doubles while
 * it lasts. */
#define ACCEPT_BACKOFF_FIRST_MS 10
#define ACCEPT_BACKOFF_MAX_MS   500

struct worker {
	const struct config *cfg;
	struct app           app;
	int                  listen_fd;
	pthread_t           *threads;
	unsigned             nthreads;
	atomic_int           stopping;
	atomic_uint          handled;
	atomic_long          active;        /* accepted, not yet finished */
	atomic_int           recycle_due;
	atomic_int           out_of_fds;    /* logged once per burst */
	pid_t                parent;        /* the supervisor */
	pthread_mutex_t      lock;
	pthread_cond_t       thread_exited;
	unsigned             running;       /* accept threads still alive */
};

static void
wake_handler(int sig)
{
	(void)sig;
}

static void
request_finished(void *arg)
{
	struct worker *w = arg;

	atomic_fetch_sub(&w->active, 1);
}

/* Out of descriptors (or memory for a socket): pause, counting each pause
 * and logging the first of a burst. */
static void
accept_backoff(struct worker *w, int rc, unsigned *backoff_ms)
{
	*backoff_ms = *backoff_ms == 0 ? ACCEPT_BACKOFF_FIRST_MS :
	    *backoff_ms * 2 > ACCEPT_BACKOFF_MAX_MS ? ACCEPT_BACKOFF_MAX_MS :
	    *backoff_ms * 2;
	if (!atomic_exchange(&w->out_of_fds, 1))
		log_error("accept failed: %s; backing off (connections wait "
		    "in the listen queue)", strerror(-rc));
	metrics_accept_backoff();
	usleep(*backoff_ms * 1000);
}

static void *
accept_thread(void *arg)
{
	struct worker *w = arg;
	struct http_request *req;
	unsigned n, backoff_ms = 0;
	int rc;

	while (!atomic_load(&w->stopping) && !atomic_load(&w->recycle_due)) {
		req = http_request_new(w->listen_fd);
		if ((rc = http_request_accept(req)) < 0) {
			http_request_discard(req);
			if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS ||
			    rc == -ENOMEM) {
				accept_backoff(w, rc, &backoff_ms);
				continue;
			}
			if (rc != -EINTR && !atomic_load(&w->stopping))
				log_warn("accept failed: %s", strerror(-rc));
			continue;
		}
		backoff_ms = 0;
		if (atomic_exchange(&w->out_of_fds, 0))
			log_info("accepting again after running out of "
			    "descriptors");
		atomic_fetch_add(&w->active, 1);
		req->on_finish = request_finished;
		req->on_finish_arg = w;
		app_handle(&w->app, req);   /* finishes req, or parks it */

		n = atomic_fetch_add(&w->handled, 1) + 1;
		if (w->cfg->max_requests != 0 && n == w->cfg->max_requests)
			atomic_store(&w->recycle_due, 1);
	}

	pthread_mutex_lock(&w->lock);
	w->running--;
	pthread_cond_signal(&w->thread_exited);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int
worker_start(struct worker *w, const struct config *cfg,
    const struct worker_secrets *sec, int listen_fd)
{
	struct sigaction sa;
	sigset_t block;
	char err[512];
	unsigned i;

	memset(w, 0, sizeof(*w));
	w->parent = getppid();
	w->cfg = cfg;
	w->listen_fd = listen_fd;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->thread_exited, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wake_handler;     /* no SA_RESTART: accept gets EINTR */
	sigaction(WAKE_SIGNAL, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Threads inherit this mask: only the main thread takes stop signals. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);

	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return -1;
	}
	metrics_process_start(getpid());
	/* Before any model call: retries count against the budget too. */
	if (cfg->model_budget_per_minute > 0)
		retry_set_gate(decide_retry_gate, (void *)cfg);
	if (app_open(&w->app, APP_WORKER, cfg, &sec->model, &sec->fingerprint,
	    err, sizeof(err)) != 0) {
		log_error("starting worker: %s", err);
		return -1;
	}
	db_pool_set_gate(w->app.db, cfg->threads > THREADS_FREE_OF_DB ?
	    cfg->threads - THREADS_FREE_OF_DB : 1);
	w->threads = kr_calloc(cfg->threads, sizeof(*w->threads));
	reaper_schedule(&w->app);
	for (i = 0; i < cfg->threads; i++) {
		pthread_mutex_lock(&w->lock);
		w->running++;
		pthread_mutex_unlock(&w->lock);
		if (pthread_create(&w->threads[i], NULL, accept_thread, w) != 0) {
			pthread_mutex_lock(&w->lock);
			w->running--;
			pthread_mutex_unlock(&w->lock);
			log_error("cannot start accept thread %u", i);
			return -1;
		}
		w->nthreads++;
	}
	return 0;
}

/* Waits for a stop signal or for the recycle limit. */
static void
worker_wait(struct worker *w)
{
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	unsigned idle, in_use, size;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		/* keyrota_db_pool_connections, a tick old at most. */
		db_pool_counts(w->app.db, &idle, &in_use, &size);
		metrics_db_pool(idle, in_use, size);
		metrics_self_sample();
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			log_info("worker draining on signal %d", sig);
			return;
		}
		if (atomic_load(&w->recycle_due)) {
			log_info("worker recycling after %u requests",
			    atomic_load(&w->handled));
			/* The replacement starts before this one drains. */
			kill(w->parent, SUPERVISOR_RECYCLE_SIGNAL);
			return;
		}
		if (getppid() != w->parent) {
			log_warn("supervisor gone; worker stopping");
			return;
		}
	}
}

/* Stops accepting and waits for requests in flight, parked ones included.
 * The deadline covers a whole decision: the newest one's deadline, its
 * terminal write included (no decision starts once accepting stopped).
 * Returns 0 when all have finished. */
static int
worker_drain(struct worker *w)
{
	long long deadline, newest;
	unsigned i;
	int done;

	atomic_store(&w->stopping, 1);
	FCGX_ShutdownPending();
	deadline = clock_now_ms() + DRAIN_MIN_MS;
	for (;;) {
		/* A thread between its stop check and accept() misses one
		 * signal, so the signal is repeated until every thread is out. */
		pthread_mutex_lock(&w->lock);
		done = w->running == 0 && atomic_load(&w->active) == 0 &&
		    atomic_load(&w->app.decisions) == 0;
		pthread_mutex_unlock(&w->lock);
		if (done)
			break;
		newest = atomic_load(&w->app.newest_deadline_ms);
		if (newest > deadline)
			deadline = newest;
		if (clock_now_ms() > deadline)
			return -1;
		for (i = 0; i < w->nthreads; i++)
			pthread_kill(w->threads[i], WAKE_SIGNAL);
		usleep(20 * 1000);
	}
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	return 0;
}

static void
worker_free(struct worker *w)
{
	app_close(&w->app);
	free(w->threads);
	pthread_cond_destroy(&w->thread_exited);
	pthread_mutex_destroy(&w->lock);
}

int
worker_main(const struct config *cfg, const struct worker_secrets *sec,
    int listen_fd)
{
	struct worker w;
	int status = WORKER_EXIT_DRAINED;

	/* Never outlive the supervisor. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (worker_start(&w, cfg, sec, listen_fd) != 0) {
		status = WORKER_EXIT_FAILED;
		if (worker_drain(&w) != 0)
			_exit(status);
		goto out;
	}
	notify_worker_accepting();
	worker_wait(&w);
	if (worker_drain(&w) != 0) {
		log_error("drain deadline passed with requests in flight");
		/* Threads still run: freeing under them would be worse. */
		_exit(WORKER_EXIT_ABANDONED);
	}
	log_info("worker stopped after %u requests", atomic_load(&w.handled));
out:
	worker_free(&w);
	return status;
}

int
worker_secrets_load(const struct config *cfg, struct worker_secrets *sec,
    char *err, size_t errlen)
{
	memset(sec, 0, sizeof(*sec));
	if (fingerprint_key_load(&sec->fingerprint, cfg->fingerprint_key_file,
	    err, errlen) != 0 ||
	    provider_secrets_load(cfg, &sec->model, err, errlen) != 0) {
		secret_wipe(sec, sizeof(*sec));
		return -1;
	}
	return 0;
}


#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "supervisor.h"
#include "worker.h"

#define BACKOFF_FIRST_MS  250
#define BACKOFF_MAX_MS    30000
#define HEALTHY_AFTER_MS  30000   /* a worker alive this long resets backoff */
#define RETIRING_MAX      1024

struct slot {
	pid_t     pid;          /* 0 when empty */
	long long started_ms;
	long long restart_at_ms;
	unsigned  failures;     /* deaths in a row of young workers */
};

struct pool {
	const struct config *cfg;
	struct worker_secrets *secrets;
	const struct run_as *as;
	int                  listen_fd;
	struct slot         *slots;
	pid_t                retiring[RETIRING_MAX];  /* draining after SIGHUP */
	unsigned             nretiring;
	unsigned long        restarts;
};

/* Root again, through the saved uid, for what only root may do. */
static int
take_root(const struct run_as *as)
{
	if (as != NULL && seteuid(0) != 0) {
		log_error("cannot take up root again: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Back to the service user; staying root by mistake is not an option. */
static void
give_up_root(const struct run_as *as)
{
	if (as != NULL && seteuid(as->uid) != 0) {
		log_error("cannot give up root: %s", strerror(errno));
		abort();
	}
}

/* In a new worker, before anything else: root is given up for good. */
static int
become(const struct run_as *as)
{
	if (take_root(as) != 0)
		return -1;
	if (setgroups(0, NULL) != 0 || setgid(as->gid) != 0 ||
	    setuid(as->uid) != 0) {
		log_error("cannot drop privileges to %s: %s", as->name,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		log_error("root could be regained; refusing");
		return -1;
	}
	return 0;
}

static void
spawn(struct pool *p, struct slot *s)
{
	sigset_t none;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		log_error("fork failed: %s", strerror(errno));
		s->restart_at_ms = clock_now_ms() + BACKOFF_FIRST_MS;
		return;
	}
	if (pid == 0) {
		if (p->as != NULL && become(p->as) != 0)
			_exit(WORKER_EXIT_FAILED);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGCHLD, SIG_DFL);
		exit(worker_main(p->cfg, p->secrets, p->listen_fd));
	}
	s->pid = pid;
	s->started_ms = clock_now_ms();
	s->restart_at_ms = 0;
	log_info("worker %ld started", (long)pid);
}

static unsigned
backoff_ms(unsigned failures)
{
	unsigned ms = BACKOFF_FIRST_MS;

	if (failures <= 1)
		return 0;
	while (--failures > 1 && ms < BACKOFF_MAX_MS)
		ms *= 2;
	return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

/* Decides when the slot of a dead worker gets its replacement. */
static void
slot_died(struct pool *p, struct slot *s, int status)
{
	long long lived = clock_now_ms() - s->started_ms;
	int planned = WIFEXITED(status) &&
	    WEXITSTATUS(status) == WORKER_EXIT_DRAINED;

	if (planned) {
		s->failures = 0;
		log_info("worker %ld exited (recycled)", (long)s->pid);
	} else {
		s->failures = lived >= HEALTHY_AFTER_MS ? 1 : s->failures + 1;
		if (WIFSIGNALED(status))
			log_error("worker %ld killed by signal %d after %lld ms",
			    (long)s->pid, WTERMSIG(status), lived);
		else
			log_error("worker %ld exited with status %d after %lld ms",
			    (long)s->pid, WEXITSTATUS(status), lived);
	}
	p->restarts++;
	metrics_worker_restart();
	s->pid = 0;
	s->restart_at_ms = clock_now_ms() + backoff_ms(s->failures);
}

static void
reap(struct pool *p, int stopping)
{
	unsigned i;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		metrics_process_gone(pid);
		for (i = 0; i < p->nretiring; i++)
			if (p->retiring[i] == pid) {
				p->retiring[i] = p->retiring[--p->nretiring];
				pid = 0;
				break;
			}
		for (i = 0; pid != 0 && i < p->cfg->workers; i++)
			if (p->slots[i].pid == pid) {
				if (stopping)
					p->slots[i].pid = 0;
				else
					slot_died(p, &p->slots[i], status);
				break;
			}
	}
}

static void
respawn_due(struct pool *p)
{
	long long now = clock_now_ms();
	unsigned i;

	for (i = 0; i < p->cfg->workers; i++)
		if (p->slots[i].pid == 0 && p->slots[i].restart_at_ms <= now)
			spawn(p, &p->slots[i]);
}

/* SIGHUP: the key files are read again; old workers drain, with the keys
 * they were forked with, while their replacements already accept. */
static void
reload(struct pool *p)
{
	static struct worker_secrets fresh;
	char err[512];
	unsigned i;
	int rc;

	if (take_root(p->as) != 0)
		return;
	rc = worker_secrets_load(p->cfg, &fresh, err, sizeof(err));
	give_up_root(p->as);
	if (rc != 0) {
		log_error("reload refused, the running workers stay: %s", err);
		return;
	}
	if (strcmp(fresh.fingerprint.id, p->secrets->fingerprint.id) != 0)
		log_info("reload: fingerprint key %s replaces %s",
		    fresh.fingerprint.id, p->secrets->fingerprint.id);
	else
		log_info("reload: fingerprint key %s unchanged",
		    fresh.fingerprint.id);
	*p->secrets = fresh;
	secret_wipe(&fresh, sizeof(fresh));
	log_info("reload: starting a new generation of workers");
	notify_reloading();
	notify_generation(p->cfg->workers);
	for (i = 0; i < p->cfg->workers; i++) {
		if (p->slots[i].pid != 0 && p->nretiring < RETIRING_MAX) {
			kill(p->slots[i].pid, SIGTERM);
			p->retiring[p->nretiring++] = p->slots[i].pid;
		}
		p->slots[i].pid = 0;
		p->slots[i].failures = 0;
		spawn(p, &p->slots[i]);
	}
}

/* A worker reached its recycle limit and is about to drain: it moves to
 * the retiring list and its replacement starts now, so the slot never
 * stands empty while the old worker finishes what it holds. */
static void
recycle(struct pool *p, pid_t pid)
{
	unsigned i;

	for (i = 0; i < p->cfg->workers; i++)
		if (p->slots[i].pid == pid && pid != 0 &&
		    p->nretiring < RETIRING_MAX) {
			p->retiring[p->nretiring++] = pid;
			p->slots[i].pid = 0;
			p->slots[i].failures = 0;
			p->restarts++;
			metrics_worker_restart();
			log_info("worker %ld recycling; replacement first",
			    (long)pid);
			spawn(p, &p->slots[i]);
			return;
		}
}

static unsigned
alive(const struct pool *p)
{
	unsigned i, n = p->nretiring;

	for (i = 0; i < p->cfg->workers; i++)
		if (p->slots[i].pid != 0)
			n++;
	return n;
}

static void
signal_all(const struct pool *p, int sig)
{
	unsigned i;

	for (i = 0; i < p->cfg->workers; i++)
		if (p->slots[i].pid != 0)
			kill(p->slots[i].pid, sig);
	for (i = 0; i < p->nretiring; i++)
		kill(p->retiring[i], sig);
}

/* Drains every worker; those still busy after the drain deadline (plus a
 * second) are killed, so the pool never leaves orphans. */
static void
stop_all(struct pool *p, const sigset_t *set)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	long long deadline = clock_now_ms() + p->cfg->drain_timeout_ms + 1000;

	signal_all(p, SIGTERM);
	while (alive(p) > 0 && clock_now_ms() < deadline) {
		sigtimedwait(set, NULL, &tick);
		reap(p, 1);
	}
	if (alive(p) > 0) {
		log_error("workers still running after drain deadline; killing");
		signal_all(p, SIGKILL);
		while (alive(p) > 0 && waitpid(-1, NULL, 0) > 0)
			reap(p, 1);
		p->nretiring = 0;
	}
}

int
supervisor_run(const struct config *cfg, struct worker_secrets *sec,
    const struct run_as *as, int listen_fd)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	struct pool p;
	siginfo_t info;
	sigset_t set;
	int sig;

	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.secrets = sec;
	p.as = as;
	p.listen_fd = listen_fd;
	p.slots = kr_calloc(cfg->workers, sizeof(*p.slots));
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SUPERVISOR_RECYCLE_SIGNAL);
	sigprocmask(SIG_BLOCK, &set, NULL);

	log_info("keyrota serving with %u workers x %u threads", cfg->workers,
	    cfg->threads);
	notify_init();
	notify_generation(cfg->workers);
	respawn_due(&p);
	for (;;) {
		sig = sigtimedwait(&set, &info, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("stopping: draining workers");
			notify_stopping();
			break;
		}
		reap(&p, 0);
		metrics_self_sample();
		if (sig == SIGHUP)
			reload(&p);
		if (sig == SUPERVISOR_RECYCLE_SIGNAL)
			recycle(&p, info.si_pid);
		respawn_due(&p);
		notify_poll();
	}
	stop_all(&p, &set);
	free(p.slots);
	/* Nothing is left to read as root: the saved uid goes too (which also
	 * lets the process's own tools, such as a leak checker, trace it). */
	if (as != NULL && setresuid(as->uid, as->uid, as->uid) != 0)
		log_error("cannot give up root at exit: %s", strerror(errno));
	log_info("stopped after %lu worker restarts", p.restarts);
	return 0;
}

#include "autoconfig.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "metrics.h"

static const int status_codes[] = { 200, 202, 303, 400, 401, 403, 404, 405,
	409, 413, 415, 422, 429, 500, 503, 0 /* other */ };
#define NSTATUS (int)(sizeof(status_codes) / sizeof(status_codes[0]))

static const double latency_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 30 };
static const enum kr_error admission_errors[] = { KR_OVERLOADED,
	KR_RATE_LIMITED, KR_MODEL_BUDGET_EXHAUSTED };

#define NBUCKETS (int)(sizeof(latency_buckets) / sizeof(latency_buckets[0]))
#define MAX_ATTEMPTS 10
#define MAX_PROCS    1024    /* workers, retiring ones included */

struct shared {
	atomic_ulong requests[METRICS_MAX_ROUTES + 1][NSTATUS];
	atomic_ulong completed[DECISION__MAX];
	atomic_ulong failed[KR_ERROR__MAX];
	atomic_ulong latency_bucket[NBUCKETS];
	atomic_ulong latency_count;
	atomic_ulong latency_sum_ms;
	atomic_ulong attempts[MAX_ATTEMPTS + 1];
	atomic_long  in_flight;
	/* Each worker's share of in_flight, so the share of a worker that
	 * died can be taken back out. */
	struct {
		atomic_int  pid;     /* 0: free */
		atomic_long in_flight;
	} procs[MAX_PROCS];
	atomic_ulong worker_restarts;
	atomic_ulong db_connect_failures;
	atomic_ulong expired_traces;
	atomic_ulong expired_eval_runs;
	atomic_ulong refused[KR_ERROR__MAX];
	atomic_ulong accept_backoffs;
	/* The model budget: the minute (wall clock, in minutes since the
	 * epoch) in the high 32 bits, the calls counted in it in the low 32,
	 * so a rollover and a call are one compare-and-swap. */
	atomic_ullong budget;
};

/* Set once, before the first fork; read-only afterwards. */
static struct shared *shm;
static const char *const *routes;
static int nroutes;
/* This process's entry in shm->procs (workers only). */
static int my_proc = -1;

int
metrics_init(const char *const *route_names, int n)
{
	void *p;

	if (n > METRICS_MAX_ROUTES)
		n = METRICS_MAX_ROUTES;
	p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof(struct shared));   /* all-zero atomics are 0 */
	shm = p;
	routes = route_names;
	nroutes = n;
	return 0;
}

static int
status_index(int status)
{
	int i;

	for (i = 0; i < NSTATUS - 1; i++)
		if (status_codes[i] == status)
			return i;
	return NSTATUS - 1;
}

void
metrics_request(int route_index, int status)
{
	if (shm == NULL)
		return;
	if (route_index < 0 || route_index >= nroutes)
		route_index = METRICS_MAX_ROUTES;     /* unmatched */
	atomic_fetch_add(&shm->requests[route_index][status_index(status)], 1);
}

void
metrics_decision(enum trace_status status, int has_decision,
    enum decision decision, enum kr_error error)
{
	if (shm == NULL)
		return;
	if (status == TRACE_COMPLETED && has_decision && decision < DECISION__MAX)
		atomic_fetch_add(&shm->completed[decision], 1);
	else if (status == TRACE_FAILED && error < KR_ERROR__MAX)
		atomic_fetch_add(&shm->failed[error], 1);
}

void
metrics_reaped(long n)
{
	if (shm == NULL || n <= 0)
		return;
	atomic_fetch_add(&shm->failed[KR_WORKER_LOST], (unsigned long)n);
}

void
metrics_provider(long latency_ms, unsigned attempts)
{
	int i;

	if (shm == NULL)
		return;
	if (latency_ms < 0)
		latency_ms = 0;
	for (i = 0; i < NBUCKETS; i++)
		if ((double)latency_ms / 1000.0 <= latency_buckets[i])
			atomic_fetch_add(&shm->latency_bucket[i], 1);
	atomic_fetch_add(&shm->latency_count, 1);
	atomic_fetch_add(&shm->latency_sum_ms, (unsigned long)latency_ms);
	atomic_fetch_add(&shm->attempts[attempts > MAX_ATTEMPTS ? MAX_ATTEMPTS :
	    attempts], 1);
}

void
metrics_in_flight(int delta)
{
	if (shm == NULL)
		return;
	atomic_fetch_add(&shm->in_flight, delta);
	if (my_proc >= 0)
		atomic_fetch_add(&shm->procs[my_proc].in_flight, delta);
}

void
metrics_process_start(int pid)
{
	int i, free_pid;

	if (shm == NULL)
		return;
	for (i = 0; i < MAX_PROCS && my_proc < 0; i++) {
		free_pid = 0;
		if (atomic_compare_exchange_strong(&shm->procs[i].pid,
		    &free_pid, pid)) {
			atomic_store(&shm->procs[i].in_flight, 0);
			my_proc = i;
		}
	}
}

void
metrics_process_gone(int pid)
{
	long left;
	int i;

	if (shm == NULL)
		return;
	for (i = 0; i < MAX_PROCS; i++)
		if (atomic_load(&shm->procs[i].pid) == pid) {
			left = atomic_exchange(&shm->procs[i].in_flight, 0);
			atomic_fetch_sub(&shm->in_flight, left);
			atomic_store(&shm->procs[i].pid, 0);
			return;
		}
}

int
metrics_admit_decision(long cap)
{
	long cur;

	if (shm == NULL)
		return 0;
	cur = atomic_load(&shm->in_flight);
	do {
		if (cap > 0 && cur >= cap)
			return -1;
	} while (!atomic_compare_exchange_weak(&shm->in_flight, &cur, cur + 1));
	/* The share follows the total at once; a worker killed between the
	 * two loses at most this one slot, which metrics_process_gone cannot
	 * see. */
	if (my_proc >= 0)
		atomic_fetch_add(&shm->procs[my_proc].in_flight, 1);
	return 0;
}

#define BUDGET_PACK(minute, n) \
	(((unsigned long long)(minute) << 32) | ((n) & 0xffffffffULL))

int
metrics_budget_take(unsigned budget, long *minute, unsigned *retry_after_s)
{
	unsigned long long v, minute_now, n;
	time_t now = time(NULL);

	minute_now = (unsigned long long)(now / 60) & 0xffffffffULL;
	*minute = (long)minute_now;
	if (shm == NULL || budget == 0)
		return 0;
	v = atomic_load(&shm->budget);
	do {
		n = (v >> 32) == minute_now ? (v & 0xffffffffULL) : 0;
		if (n >= budget) {
			*retry_after_s = (unsigned)(60 - now % 60);
			return -1;
		}
	} while (!atomic_compare_exchange_weak(&shm->budget, &v,
	    BUDGET_PACK(minute_now, n + 1)));
	return 0;
}

void
metrics_budget_refund(long minute)
{
	unsigned long long v, n;

	if (shm == NULL)
		return;
	v = atomic_load(&shm->budget);
	do {
		n = v & 0xffffffffULL;
		if ((long)(v >> 32) != minute || n == 0)
			return;
	} while (!atomic_compare_exchange_weak(&shm->budget, &v,
	    BUDGET_PACK(minute, n - 1)));
}

void
metrics_refused(enum kr_error e)
{
	if (shm != NULL && e < KR_ERROR__MAX)
		atomic_fetch_add(&shm->refused[e], 1);
}

void
metrics_accept_backoff(void)
{
	if (shm != NULL)
		atomic_fetch_add(&shm->accept_backoffs, 1);
}

long
metrics_decisions_in_flight(void)
{
	return shm == NULL ? 0 : atomic_load(&shm->in_flight);
}

void
metrics_worker_restart(void)
{
	if (shm != NULL)
		atomic_fetch_add(&shm->worker_restarts, 1);
}

void
metrics_db_connect_failure(void)
{
	if (shm != NULL)
		atomic_fetch_add(&shm->db_connect_failures, 1);
}

void
metrics_expired(long traces, long eval_runs)
{
	if (shm == NULL)
		return;
	if (traces > 0)
		atomic_fetch_add(&shm->expired_traces, (unsigned long)traces);
	if (eval_runs > 0)
		atomic_fetch_add(&shm->expired_eval_runs,
		    (unsigned long)eval_runs);
}

void
metrics_render(struct buf *out)
{
	unsigned long v;
	char label[8];
	int r, s, i;

	if (shm == NULL)
		return;
	buf_puts(out, "# HELP keyrota_http_requests_total Requests answered, "
	    "by route and status.\n# TYPE keyrota_http_requests_total counter\n");
	for (r = 0; r <= METRICS_MAX_ROUTES; r++) {
		if (r >= nroutes && r != METRICS_MAX_ROUTES)
			continue;
		for (s = 0; s < NSTATUS; s++) {
			if ((v = atomic_load(&shm->requests[r][s])) == 0)
				continue;
			if (status_codes[s] != 0)
				snprintf(label, sizeof(label), "%d",
				    status_codes[s]);
			else
				snprintf(label, sizeof(label), "other");
			buf_printf(out, "keyrota_http_requests_total{route=\"%s\","
			    "status=\"%s\"} %lu\n", r == METRICS_MAX_ROUTES ?
			    "unmatched" : routes[r], label, v);
		}
	}
	buf_puts(out, "# HELP keyrota_decisions_total Traces that reached a "
	    "terminal state.\n# TYPE keyrota_decisions_total counter\n");
	for (i = 0; i < DECISION__MAX; i++)
		buf_printf(out, "keyrota_decisions_total{status=\"%s\","
		    "decision=\"%s\",error_code=\"\"} %lu\n",
		    store_traces_status_name(TRACE_COMPLETED),
		    answer_decision_name((enum decision)i),
		    atomic_load(&shm->completed[i]));
	for (i = 1; i < KR_ERROR__MAX; i++)
		if (kr_error_is_trace_error((enum kr_error)i))
			buf_printf(out, "keyrota_decisions_total{status=\"%s\","
			    "decision=\"\",error_code=\"%s\"} %lu\n",
			    store_traces_status_name(TRACE_FAILED),
			    kr_error_code((enum kr_error)i),
			    atomic_load(&shm->failed[i]));
	buf_puts(out, "# HELP keyrota_decisions_in_flight Decisions started "
	    "and not yet terminal.\n# TYPE keyrota_decisions_in_flight gauge\n");
	buf_printf(out, "keyrota_decisions_in_flight %ld\n",
	    atomic_load(&shm->in_flight));
	buf_puts(out, "# HELP keyrota_provider_latency_seconds Model calls, "
	    "retries included.\n# TYPE keyrota_provider_latency_seconds "
	    "histogram\n");
	for (i = 0; i < NBUCKETS; i++)
		buf_printf(out, "keyrota_provider_latency_seconds_bucket{le=\"%g\"}"
		    " %lu\n", latency_buckets[i],
		    atomic_load(&shm->latency_bucket[i]));
	v = atomic_load(&shm->latency_count);
	buf_printf(out, "keyrota_provider_latency_seconds_bucket{le=\"+Inf\"} %lu\n"
	    "keyrota_provider_latency_seconds_sum %.3f\n"
	    "keyrota_provider_latency_seconds_count %lu\n", v,
	    (double)atomic_load(&shm->latency_sum_ms) / 1000.0, v);
	buf_puts(out, "# HELP keyrota_provider_attempts_total Decisions by the "
	    "number of provider attempts they took.\n"
	    "# TYPE keyrota_provider_attempts_total counter\n");
	for (i = 0; i <= MAX_ATTEMPTS; i++)
		if ((v = atomic_load(&shm->attempts[i])) != 0)
			buf_printf(out, "keyrota_provider_attempts_total{attempts="
			    "\"%d\"} %lu\n", i, v);
	buf_printf(out, "# HELP keyrota_worker_restarts_total Workers replaced "
	    "after dying or recycling.\n# TYPE keyrota_worker_restarts_total "
	    "counter\nkeyrota_worker_restarts_total %lu\n",
	    atomic_load(&shm->worker_restarts));
	buf_printf(out, "# HELP keyrota_db_connection_failures_total Database "
	    "connections that could not be opened.\n# TYPE "
	    "keyrota_db_connection_failures_total counter\n"
	    "keyrota_db_connection_failures_total %lu\n",
	    atomic_load(&shm->db_connect_failures));
	buf_printf(out, "# HELP keyrota_traces_expired_total Traces deleted "
	    "after the retention period.\n# TYPE keyrota_traces_expired_total "
	    "counter\nkeyrota_traces_expired_total %lu\n"
	    "# HELP keyrota_eval_runs_expired_total Eval runs deleted after the "
	    "retention period.\n# TYPE keyrota_eval_runs_expired_total "
	    "counter\nkeyrota_eval_runs_expired_total %lu\n",
	    atomic_load(&shm->expired_traces),
	    atomic_load(&shm->expired_eval_runs));
	buf_puts(out, "# HELP keyrota_admission_refused_total Decisions "
	    "refused before anything was written, by error code.\n"
	    "# TYPE keyrota_admission_refused_total counter\n");
	for (i = 0; i < (int)(sizeof(admission_errors) /
	    sizeof(admission_errors[0])); i++)
		buf_printf(out, "keyrota_admission_refused_total{error_code="
		    "\"%s\"} %lu\n", kr_error_code(admission_errors[i]),
		    atomic_load(&shm->refused[admission_errors[i]]));
	buf_printf(out, "# HELP keyrota_accept_backoffs_total Times an accept "
	    "thread paused because the process was out of file descriptors.\n"
	    "# TYPE keyrota_accept_backoffs_total counter\n"
	    "keyrota_accept_backoffs_total %lu\n",
	    atomic_load(&shm->accept_backoffs));
}

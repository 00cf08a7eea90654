#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

/* The statuses keyrota answers with; anything else counts as "other". */
static const int status_codes[] = { 200, 201, 202, 204, 303, 304, 400, 401,
	403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504,
	0 /* other */ };
#define NSTATUS (int)(sizeof(status_codes) / sizeof(status_codes[0]))

/* The method label is a closed set, so no client can grow the series. */
static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
	"DELETE", "PATCH", "OPTIONS", "other" };
#define NMETHODS (int)(sizeof(methods) / sizeof(methods[0]))

/* Requests: /healthz in a millisecond up to a decision that waits on the
 * model. Model calls: a fast local model up to the longest deadline. */
static const double http_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10, 30 };
#define NHTTP_BUCKETS (int)(sizeof(http_buckets) / sizeof(http_buckets[0]))
static const double provider_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 30, 60 };
#define NPROVIDER_BUCKETS \
	(int)(sizeof(provider_buckets) / sizeof(provider_buckets[0]))

static const enum kr_error admission_errors[] = { KR_OVERLOADED,
	KR_RATE_LIMITED, KR_MODEL_BUDGET_EXHAUSTED };

#define MAX_PROCS    1024    /* workers, retiring ones included */

/* A histogram as observations per bucket (one bucket each, the last one
 * past every bound), summed into the cumulative "le" series when rendered:
 * a scrape racing an observation still reads buckets that never go down
 * and a +Inf that equals the count. The sum is in nanoseconds. */
#define MAX_BUCKETS (NHTTP_BUCKETS > NPROVIDER_BUCKETS ? NHTTP_BUCKETS : \
	NPROVIDER_BUCKETS)
struct histogram {
	atomic_ulong bucket[MAX_BUCKETS + 1];
	atomic_ulong sum_ns;
};

struct shared {
	atomic_ulong requests[METRICS_MAX_ROUTES + 1][NMETHODS][NSTATUS];
	struct histogram request_duration[METRICS_MAX_ROUTES + 1];
	atomic_ulong completed[DECISION__MAX];
	atomic_ulong failed[KR_ERROR__MAX];
	/* Model calls, one per attempt, by the attempt's error (KR_OK:
	 * it gave the answer). */
	struct histogram provider_duration[KR_ERROR__MAX];
	atomic_ulong provider_retries;
	atomic_ulong tokens_input;
	atomic_ulong tokens_output;
	atomic_long  in_flight;
	/* Each worker's share of in_flight, so the share of a worker that
	 * died can be taken back out, and its database pool. */
	struct {
		atomic_int  pid;     /* 0: free */
		atomic_long in_flight;
		atomic_uint pool_idle;
		atomic_uint pool_in_use;
		atomic_uint pool_size;
		atomic_uint open_fds;
	} procs[MAX_PROCS];
	atomic_int   supervisor_pid;
	atomic_uint  supervisor_fds;
	atomic_ulong worker_restarts;
	atomic_ulong db_connect_failures;
	atomic_ulong expired_traces;
	atomic_ulong expired_eval_runs;
	atomic_ulong refused[KR_ERROR__MAX];
	atomic_ulong accept_backoffs;
	atomic_ulong otlp_spans[METRICS_OTLP__MAX];
	/* The model budget: the minute (wall clock, in minutes since the
	 * epoch) in the high 32 bits, the calls counted in it in the low 32,
	 * so a rollover and a call are one compare-and-swap. */
	atomic_ullong budget;
	/* The newest eval run, written under a sequence count (odd while
	 * being written) so a reader never mixes two runs. */
	atomic_llong eval_next_refresh_s;
	atomic_uint  eval_seq;
	atomic_int   eval_known;
	atomic_long  eval_passed;
	atomic_long  eval_failed;
	atomic_llong eval_started_s;
};

/* keyrota_otlp_spans_{name}_total, one per enum metrics_otlp. */
static const struct {
	const char *name;
	const char *help;
} otlp_counters[METRICS_OTLP__MAX] = {
	[METRICS_OTLP_EXPORTED] = { "keyrota_otlp_spans_exported_total",
	    "Spans the OTLP collector accepted." },
	[METRICS_OTLP_DROPPED] = { "keyrota_otlp_spans_dropped_total",
	    "Spans dropped: the export queue was full, or "
	    "they were still queued when the worker stopped." },
	[METRICS_OTLP_FAILED] = { "keyrota_otlp_spans_failed_total",
	    "Spans whose OTLP export failed (not retried)." },
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
	atomic_store(&shm->supervisor_pid, (int)getpid());
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

static int
method_index(const char *method)
{
	int i;

	for (i = 0; method != NULL && i < NMETHODS - 1; i++)
		if (strcmp(methods[i], method) == 0)
			return i;
	return NMETHODS - 1;
}

static void
observe(struct histogram *h, const double *bounds, int nbounds,
    double seconds)
{
	int i;

	if (!(seconds >= 0))          /* negative, or NaN */
		seconds = 0;
	if (seconds > 1e6)            /* keeps the sum's conversion defined */
		seconds = 1e6;
	for (i = 0; i < nbounds && seconds > bounds[i]; i++)
		;
	atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->sum_ns, (unsigned long)(seconds * 1e9));
}

void
metrics_request(int route_index, const char *method, int status,
    double seconds)
{
	if (shm == NULL)
		return;
	if (route_index < 0 || route_index >= nroutes)
		route_index = METRICS_MAX_ROUTES;     /* unmatched */
	atomic_fetch_add(&shm->requests[route_index][method_index(method)]
	    [status_index(status)], 1);
	observe(&shm->request_duration[route_index], http_buckets,
	    NHTTP_BUCKETS, seconds);
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
metrics_provider(const struct provider_result *res)
{
	const struct provider_attempt *a;
	unsigned i, n;

	if (shm == NULL)
		return;
	n = res->nlog < PROVIDER_ATTEMPTS_MAX ? res->nlog :
	    PROVIDER_ATTEMPTS_MAX;
	for (i = 0; i < n; i++) {
		a = &res->log[i];
		observe(&shm->provider_duration[a->error < KR_ERROR__MAX ?
		    a->error : KR_INTERNAL_ERROR], provider_buckets,
		    NPROVIDER_BUCKETS, (double)(a->end_ns - a->start_ns) / 1e9);
	}
	if (n > 1)
		atomic_fetch_add(&shm->provider_retries, n - 1);
	if (res->input_tokens > 0)
		atomic_fetch_add(&shm->tokens_input,
		    (unsigned long)res->input_tokens);
	if (res->output_tokens > 0)
		atomic_fetch_add(&shm->tokens_output,
		    (unsigned long)res->output_tokens);
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
			atomic_store(&shm->procs[i].pool_idle, 0);
			atomic_store(&shm->procs[i].pool_in_use, 0);
			atomic_store(&shm->procs[i].pool_size, 0);
			atomic_store(&shm->procs[i].open_fds, 0);
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
			atomic_store(&shm->procs[i].pool_idle, 0);
			atomic_store(&shm->procs[i].pool_in_use, 0);
			atomic_store(&shm->procs[i].pool_size, 0);
			atomic_store(&shm->procs[i].open_fds, 0);
			atomic_store(&shm->procs[i].pid, 0);
			return;
		}
}

void
metrics_db_pool(unsigned idle, unsigned in_use, unsigned size)
{
	if (shm == NULL || my_proc < 0)
		return;
	atomic_store(&shm->procs[my_proc].pool_idle, idle);
	atomic_store(&shm->procs[my_proc].pool_in_use, in_use);
	atomic_store(&shm->procs[my_proc].pool_size, size);
}

/* Only a process itself may list its descriptors once it has given up
 * root (it is no longer dumpable), so each one counts its own. */
static unsigned
open_fds_of_self(void)
{
	struct dirent *d;
	unsigned n = 0;
	DIR *dir;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n > 0 ? n - 1 : 0;     /* the directory's own descriptor */
}

void
metrics_self_sample(void)
{
	if (shm == NULL)
		return;
	if (my_proc >= 0)
		atomic_store(&shm->procs[my_proc].open_fds, open_fds_of_self());
	else if (atomic_load(&shm->supervisor_pid) == (int)getpid())
		atomic_store(&shm->supervisor_fds, open_fds_of_self());
}

int
metrics_eval_refresh_due(void)
{
	long long now = (long long)time(NULL), next;

	if (shm == NULL)
		return 0;
	next = atomic_load(&shm->eval_next_refresh_s);
	/* Whoever moves the time on does the reading; a reader that died
	 * holds nothing, the next one comes a period later. */
	return next <= now && atomic_compare_exchange_strong(
	    &shm->eval_next_refresh_s, &next, now + METRICS_EVAL_REFRESH_S);
}

void
metrics_eval_last_run(long passed, long failed, long long started_s)
{
	if (shm == NULL)
		return;
	atomic_fetch_add(&shm->eval_seq, 1);
	atomic_store(&shm->eval_passed, passed);
	atomic_store(&shm->eval_failed, failed);
	atomic_store(&shm->eval_started_s, started_s);
	atomic_store(&shm->eval_known, 1);
	atomic_fetch_add(&shm->eval_seq, 1);
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

void
metrics_otlp(enum metrics_otlp what, long spans)
{
	if (shm != NULL && what < METRICS_OTLP__MAX && spans > 0)
		atomic_fetch_add(&shm->otlp_spans[what], (unsigned long)spans);
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


/* "# HELP" and "# TYPE" of one family. */
static void
family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: backslash, double quote and
 * newline escaped. */
static void
label_value(struct buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\')
			buf_puts(out, "\\\\");
		else if (*s == '"')
			buf_puts(out, "\\\"");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *s);
	}
}

/* name{key="value"...} with the labels given as pairs; an empty or NULL
 * value is written as "unknown", never as "". */
static void
series(struct buf *out, const char *name, const char *const *labels,
    int npairs)
{
	int i;

	buf_puts(out, name);
	if (npairs == 0)
		return;
	buf_putc(out, '{');
	for (i = 0; i < npairs; i++) {
		buf_printf(out, "%s%s=\"", i > 0 ? "," : "", labels[2 * i]);
		label_value(out, labels[2 * i + 1] != NULL &&
		    labels[2 * i + 1][0] != '\0' ? labels[2 * i + 1] :
		    "unknown");
		buf_putc(out, '"');
	}
	buf_putc(out, '}');
}

static void
sample_ul(struct buf *out, const char *name, const char *const *labels,
    int npairs, unsigned long v)
{
	series(out, name, labels, npairs);
	buf_printf(out, " %lu\n", v);
}

static void
sample_d(struct buf *out, const char *name, const char *const *labels,
    int npairs, double v)
{
	series(out, name, labels, npairs);
	buf_printf(out, " %.17g\n", v);
}


static unsigned long
hist_count(const struct histogram *h)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i <= MAX_BUCKETS; i++)
		n += atomic_load(&h->bucket[i]);
	return n;
}

/* One histogram's series: the labels given, plus "le" on the buckets;
 * labels has room for that one more pair. */
static void
histogram(struct buf *out, const char *name, const char **labels,
    int npairs, const struct histogram *h, const double *bounds, int nb)
{
	char bucket[96], le[32];
	unsigned long count = 0;
	int i;

	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	labels[2 * npairs] = "le";
	labels[2 * npairs + 1] = le;
	for (i = 0; i < nb; i++) {
		count += atomic_load(&h->bucket[i]);
		snprintf(le, sizeof(le), "%g", bounds[i]);
		sample_ul(out, bucket, labels, npairs + 1, count);
	}
	count += atomic_load(&h->bucket[nb]);
	snprintf(le, sizeof(le), "+Inf");
	sample_ul(out, bucket, labels, npairs + 1, count);
	snprintf(bucket, sizeof(bucket), "%s_sum", name);
	sample_d(out, bucket, labels, npairs,
	    (double)atomic_load(&h->sum_ns) / 1e9);
	snprintf(bucket, sizeof(bucket), "%s_count", name);
	sample_ul(out, bucket, labels, npairs, count);
}

/* What the process_* families add up, for one process from /proc. */
struct proc_usage {
	double cpu_s;
	double rss_bytes;
	double vm_bytes;
	double open_fds;
	double max_fds;
	double start_s;      /* since boot */
};

/* Field n (1-based, as proc(5) numbers them) of /proc/pid/stat; the
 * command name may hold spaces and parentheses, so counting starts after
 * its last ')', at field 3. */
static int
stat_fields(const char *stat, const int *want, int nwant,
    unsigned long long *out)
{
	const char *p = strrchr(stat, ')');
	char *end;
	int field, k = 0;

	if (p == NULL)
		return -1;
	p++;
	for (field = 3; k < nwant; field++) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			return -1;
		if (field == want[k]) {
			errno = 0;
			out[k++] = strtoull(p, &end, 10);
			if (errno != 0 || end == p)
				return -1;
			p = end;
		}
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return 0;
}

static int
read_small(const char *path, char *dst, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(dst, 1, size - 1, f);
	fclose(f);
	dst[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* The soft "Max open files" of /proc/pid/limits; 0 when unlimited or not
 * readable. */
static double
max_fds_of(int pid)
{
	char path[64], text[4096], *line, *end;
	unsigned long long v;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	if (read_small(path, text, sizeof(text)) != 0 ||
	    (line = strstr(text, "Max open files")) == NULL)
		return 0;
	line += strlen("Max open files");
	while (*line == ' ')
		line++;
	errno = 0;
	v = strtoull(line, &end, 10);
	return errno != 0 || end == line ? 0 : (double)v;
}

/* Adds pid's usage to u. The supervisor's CPU includes its reaped
 * children's (cutime, cstime), so the CPU of workers that have exited
 * stays in the total. */
static int
proc_add(int pid, int with_reaped, struct proc_usage *u)
{
	/* utime stime cutime cstime starttime vsize rss */
	static const int want[] = { 14, 15, 16, 17, 22, 23, 24 };
	unsigned long long f[sizeof(want) / sizeof(want[0])];
	char path[64], stat[1024];
	double tck = (double)sysconf(_SC_CLK_TCK);
	double page = (double)sysconf(_SC_PAGESIZE);

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (tck <= 0 || read_small(path, stat, sizeof(stat)) != 0 ||
	    stat_fields(stat, want, (int)(sizeof(want) / sizeof(want[0])),
	    f) != 0)
		return -1;
	u->cpu_s += (double)(f[0] + f[1]) / tck;
	if (with_reaped)
		u->cpu_s += (double)(f[2] + f[3]) / tck;
	u->start_s = (double)f[4] / tck;
	u->vm_bytes += (double)f[5];
	u->rss_bytes += (double)f[6] * page;
	u->max_fds += max_fds_of(pid);
	return 0;
}

/* The boot time (seconds since the epoch) of /proc/stat's btime. */
static double
boot_time(void)
{
	char text[8192], *p, *end;
	unsigned long long v;

	if (read_small("/proc/stat", text, sizeof(text)) != 0 ||
	    (p = strstr(text, "\nbtime ")) == NULL)
		return 0;
	p += strlen("\nbtime ");
	errno = 0;
	v = strtoull(p, &end, 10);
	return errno != 0 || end == p ? 0 : (double)v;
}

/* The process_* families, one unlabelled sample each. */
static void
process_families(struct buf *out, const struct proc_usage *u, double start_s)
{
	const struct {
		const char *name, *type, *help;
		double      v;
	} fams[] = {
		{ "process_cpu_seconds_total", "counter", "User and system CPU "
		    "time of the supervisor and its workers, exited workers "
		    "included, in seconds.", u->cpu_s },
		{ "process_resident_memory_bytes", "gauge", "Resident memory of "
		    "the supervisor and its live workers, in bytes.",
		    u->rss_bytes },
		{ "process_virtual_memory_bytes", "gauge", "Virtual memory of the "
		    "supervisor and its live workers, in bytes.", u->vm_bytes },
		{ "process_open_fds", "gauge", "Open file descriptors of the "
		    "supervisor and its live workers.", u->open_fds },
		{ "process_max_fds", "gauge", "The descriptor limits of the same "
		    "processes, added up.", u->max_fds },
		{ "process_start_time_seconds", "gauge", "When the supervisor "
		    "started, in seconds since the epoch.",
		    start_s },
	};
	size_t i;

	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		family(out, fams[i].name, fams[i].type, fams[i].help);
		sample_d(out, fams[i].name, NULL, 0, fams[i].v);
	}
}

/* process_*: the supervisor and every live worker added up, so the
 * figures are the instance's (README, "Metrics"). */
static void
render_process(struct buf *out)
{
	struct proc_usage u, sup;
	int i, pid;

	memset(&u, 0, sizeof(u));
	memset(&sup, 0, sizeof(sup));
	if (proc_add(atomic_load(&shm->supervisor_pid), 1, &sup) != 0)
		return;
	u = sup;
	u.open_fds = atomic_load(&shm->supervisor_fds);
	for (i = 0; i < MAX_PROCS; i++)
		if ((pid = atomic_load(&shm->procs[i].pid)) != 0) {
			(void)proc_add(pid, 0, &u);
			u.open_fds += atomic_load(&shm->procs[i].open_fds);
		}
	process_families(out, &u, boot_time() + sup.start_s);
}

static void
render_http(struct buf *out)
{
	const char *l[8];
	char code[16];
	unsigned long v;
	int r, m, s;

	family(out, "keyrota_http_requests_total", "counter",
	    "Responses written, by route pattern, method and status code.");
	for (r = 0; r <= METRICS_MAX_ROUTES; r++) {
		if (r >= nroutes && r != METRICS_MAX_ROUTES)
			continue;
		for (m = 0; m < NMETHODS; m++)
			for (s = 0; s < NSTATUS; s++) {
				if ((v = atomic_load(&shm->requests[r][m][s])) == 0)
					continue;
				if (status_codes[s] != 0)
					snprintf(code, sizeof(code), "%d",
					    status_codes[s]);
				else
					snprintf(code, sizeof(code), "other");
				l[0] = "route";
				l[1] = r == METRICS_MAX_ROUTES ? "unmatched" :
				    routes[r];
				l[2] = "method";
				l[3] = methods[m];
				l[4] = "code";
				l[5] = code;
				sample_ul(out, "keyrota_http_requests_total", l, 3,
				    v);
			}
	}
	family(out, "keyrota_http_request_duration_seconds", "histogram",
	    "Seconds from accepting a request to handing its response to "
	    "nginx, by route pattern.");
	for (r = 0; r <= METRICS_MAX_ROUTES; r++) {
		if ((r >= nroutes && r != METRICS_MAX_ROUTES) ||
		    hist_count(&shm->request_duration[r]) == 0)
			continue;
		l[0] = "route";
		l[1] = r == METRICS_MAX_ROUTES ? "unmatched" : routes[r];
		histogram(out, "keyrota_http_request_duration_seconds", l, 1,
		    &shm->request_duration[r], http_buckets, NHTTP_BUCKETS);
	}
}

static void
render_decisions(struct buf *out)
{
	const char *l[4];
	int i;

	family(out, "keyrota_decisions_total", "counter",
	    "Traces that reached a terminal state, by outcome (the decision, "
	    "or failed) and error type (none unless failed).");
	l[0] = "outcome";
	l[2] = "error_type";
	l[3] = "none";
	for (i = 0; i < DECISION__MAX; i++) {
		l[1] = answer_decision_name((enum decision)i);
		sample_ul(out, "keyrota_decisions_total", l, 2,
		    atomic_load(&shm->completed[i]));
	}
	l[1] = "failed";
	for (i = 1; i < KR_ERROR__MAX; i++)
		if (kr_error_is_trace_error((enum kr_error)i)) {
			l[3] = kr_error_code((enum kr_error)i);
			sample_ul(out, "keyrota_decisions_total", l, 2,
			    atomic_load(&shm->failed[i]));
		}
	family(out, "keyrota_decisions_in_flight", "gauge",
	    "Decisions started and not yet terminal.");
	sample_d(out, "keyrota_decisions_in_flight", NULL, 0,
	    (double)atomic_load(&shm->in_flight));
	family(out, "keyrota_admission_refused_total", "counter",
	    "Decisions refused before anything was written, by error type.");
	l[0] = "error_type";
	for (i = 0; i < (int)(sizeof(admission_errors) /
	    sizeof(admission_errors[0])); i++) {
		l[1] = kr_error_code(admission_errors[i]);
		sample_ul(out, "keyrota_admission_refused_total", l, 1,
		    atomic_load(&shm->refused[admission_errors[i]]));
	}
}

static void
render_provider(struct buf *out, const struct metrics_info *info)
{
	const char *l[8] = { "provider", info->provider, "model", info->model,
	    "error_type", NULL, NULL, NULL };
	int e;

	family(out, "keyrota_provider_request_duration_seconds", "histogram",
	    "Seconds of each model call (one per attempt), by provider, model "
	    "and the attempt's error type (none: it gave the answer).");
	for (e = 0; e < KR_ERROR__MAX; e++) {
		if (e != KR_OK &&
		    hist_count(&shm->provider_duration[e]) == 0)
			continue;
		l[5] = e == KR_OK ? "none" : kr_error_code((enum kr_error)e);
		histogram(out, "keyrota_provider_request_duration_seconds", l,
		    3, &shm->provider_duration[e], provider_buckets,
		    NPROVIDER_BUCKETS);
	}
	family(out, "keyrota_provider_attempts_total", "counter",
	    "Model calls (attempts), by provider, model and error type.");
	for (e = 0; e < KR_ERROR__MAX; e++) {
		if (e != KR_OK &&
		    hist_count(&shm->provider_duration[e]) == 0)
			continue;
		l[5] = e == KR_OK ? "none" : kr_error_code((enum kr_error)e);
		sample_ul(out, "keyrota_provider_attempts_total", l, 3,
		    hist_count(&shm->provider_duration[e]));
	}
	family(out, "keyrota_provider_retries_total", "counter",
	    "Model calls after the first of a decision, by provider and "
	    "model.");
	sample_ul(out, "keyrota_provider_retries_total", l, 2,
	    atomic_load(&shm->provider_retries));
	family(out, "keyrota_provider_tokens_total", "counter",
	    "Tokens the model reported, by type (input, output).");
	l[0] = "type";
	l[1] = "input";
	sample_ul(out, "keyrota_provider_tokens_total", l, 1,
	    atomic_load(&shm->tokens_input));
	l[1] = "output";
	sample_ul(out, "keyrota_provider_tokens_total", l, 1,
	    atomic_load(&shm->tokens_output));
}

static void
render_pool(struct buf *out)
{
	unsigned long idle = 0, in_use = 0, size = 0;
	const char *l[2] = { "state", NULL };
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (atomic_load(&shm->procs[i].pid) != 0) {
			idle += atomic_load(&shm->procs[i].pool_idle);
			in_use += atomic_load(&shm->procs[i].pool_in_use);
			size += atomic_load(&shm->procs[i].pool_size);
		}
	family(out, "keyrota_db_pool_connections", "gauge",
	    "Database connections of every worker's pool, by state (in_use "
	    "includes those being opened).");
	l[1] = "idle";
	sample_ul(out, "keyrota_db_pool_connections", l, 1, idle);
	l[1] = "in_use";
	sample_ul(out, "keyrota_db_pool_connections", l, 1, in_use);
	family(out, "keyrota_db_pool_max_connections", "gauge",
	    "The pools' sizes, added up over the workers.");
	sample_ul(out, "keyrota_db_pool_max_connections", NULL, 0, size);
}

static void
render_eval(struct buf *out)
{
	long passed = 0, failed = 0;
	long long started = 0;
	unsigned seq;
	int known = 0, tries;

	for (tries = 0; tries < 100; tries++) {
		seq = atomic_load(&shm->eval_seq);
		if (seq & 1)
			continue;
		known = atomic_load(&shm->eval_known);
		passed = atomic_load(&shm->eval_passed);
		failed = atomic_load(&shm->eval_failed);
		started = atomic_load(&shm->eval_started_s);
		if (atomic_load(&shm->eval_seq) == seq)
			break;
	}
	family(out, "keyrota_eval_last_run_pass_ratio", "gauge",
	    "Passed cases over all cases of the newest `keyrota eval` run "
	    "(read at most every 30 s; absent before the first run).");
	if (known && passed + failed > 0)
		sample_d(out, "keyrota_eval_last_run_pass_ratio", NULL, 0,
		    (double)passed / (double)(passed + failed));
	family(out, "keyrota_eval_last_run_timestamp_seconds", "gauge",
	    "When the newest `keyrota eval` run started, in seconds since "
	    "the epoch.");
	if (known)
		sample_d(out, "keyrota_eval_last_run_timestamp_seconds", NULL, 0,
		    (double)started);
}

void
metrics_render(struct buf *out, const struct metrics_info *info)
{
	const char *l[8] = { "version", info->version, "prompt_version",
	    info->prompt_version, "provider", info->provider, "model",
	    info->model };
	int i;

	if (shm == NULL)
		return;
	family(out, "keyrota_build_info", "gauge",
	    "Always 1; the labels name the build, prompt, provider and model.");
	sample_ul(out, "keyrota_build_info", l, 4, 1);
	render_http(out);
	render_decisions(out);
	render_provider(out, info);
	render_pool(out);
	render_eval(out);
	family(out, "keyrota_worker_restarts_total", "counter",
	    "Workers replaced after dying or recycling.");
	sample_ul(out, "keyrota_worker_restarts_total", NULL, 0,
	    atomic_load(&shm->worker_restarts));
	family(out, "keyrota_db_connection_failures_total", "counter",
	    "Database connections that could not be opened.");
	sample_ul(out, "keyrota_db_connection_failures_total", NULL, 0,
	    atomic_load(&shm->db_connect_failures));
	family(out, "keyrota_traces_expired_total", "counter",
	    "Traces deleted after the retention period.");
	sample_ul(out, "keyrota_traces_expired_total", NULL, 0,
	    atomic_load(&shm->expired_traces));
	family(out, "keyrota_eval_runs_expired_total", "counter",
	    "Eval runs deleted after the retention period.");
	sample_ul(out, "keyrota_eval_runs_expired_total", NULL, 0,
	    atomic_load(&shm->expired_eval_runs));
	family(out, "keyrota_accept_backoffs_total", "counter",
	    "Times an accept thread paused because the process was out of "
	    "file descriptors.");
	sample_ul(out, "keyrota_accept_backoffs_total", NULL, 0,
	    atomic_load(&shm->accept_backoffs));
	for (i = 0; i < METRICS_OTLP__MAX; i++) {
		family(out, otlp_counters[i].name, "counter",
		    otlp_counters[i].help);
		sample_ul(out, otlp_counters[i].name, NULL, 0,
		    atomic_load(&shm->otlp_spans[i]));
	}
	render_process(out);
}

#include "autoconfig.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "timer_heap.h"

#define POLL_MAX_MS 1000
/* Connections to one host (the model) per worker. HTTP/2 calls share them
 * as streams (up to STREAMS_MAX each, or fewer when the server says so:
 * fewer handshakes under load); HTTP/1.1 calls past the bound wait
 * in the multi handle for a free connection, their deadline running. */
#define HOST_CONNECTIONS_MAX 256L
#define STREAMS_MAX          1000L
/* libcurl does not time out a transfer while it waits for a connection
 * (its pending state), so the loop ends one that is still in the multi
 * handle this long after its own timeout would have. */
#define DEADLINE_SLACK_MS    100

/* Transfers handed over by other threads wait here for the loop thread,
 * the only one that touches the multi handle. Once added, the easy
 * handle's CURLOPT_PRIVATE points back at its record, so a finished
 * transfer is found and unlinked in O(1). */
struct transfer {
	CURL             *easy;
	loop_transfer_fn  done;
	void             *arg;
	long long         deadline_ms;   /* 0: none */
	size_t            slot;          /* in deadlines, when queued */
	int               queued;        /* in deadlines */
	struct transfer  *next;
	struct transfer  *prev;          /* running list only */
};

struct loop {
	pthread_t        thread;
	int              started;
	atomic_int       stopping;
	CURLM           *multi;
	pthread_mutex_t  lock;
	struct timer_heap timers;
	struct transfer *incoming;     /* not yet added to multi */
	struct transfer *running;      /* added to multi; loop thread only */
	struct timer_heap deadlines;   /* of running transfers; loop thread */
};

struct loop *
loop_create(void)
{
	struct loop *l;

	l = kr_calloc(1, sizeof(*l));
	if ((l->multi = curl_multi_init()) == NULL) {
		free(l);
		return NULL;
	}
	timer_heap_init(&l->timers);
	timer_heap_init(&l->deadlines);
	curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    HOST_CONNECTIONS_MAX);
	curl_multi_setopt(l->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, STREAMS_MAX);
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void
loop_after(struct loop *l, unsigned ms, loop_fn fn, void *arg)
{
	long long due = clock_now_ms() + ms;

	pthread_mutex_lock(&l->lock);
	timer_heap_push(&l->timers, due, fn, arg, NULL);
	pthread_mutex_unlock(&l->lock);
	curl_multi_wakeup(l->multi);
}

void
loop_add_transfer(struct loop *l, CURL *easy, unsigned timeout_ms,
    loop_transfer_fn done, void *arg)
{
	struct transfer *t;

	t = kr_calloc(1, sizeof(*t));
	if (timeout_ms > 0)
		t->deadline_ms = clock_now_ms() + timeout_ms + DEADLINE_SLACK_MS;
	t->easy = easy;
	t->done = done;
	t->arg = arg;
	pthread_mutex_lock(&l->lock);
	t->next = l->incoming;
	l->incoming = t;
	pthread_mutex_unlock(&l->lock);
	curl_multi_wakeup(l->multi);
}

/* Pops and runs every timer that is due; returns ms until the next one. */
static int
run_timers(struct loop *l)
{
	const struct timer_entry *first;
	struct timer_entry t;
	long long now;
	int wait;

	for (;;) {
		now = clock_now_ms();
		pthread_mutex_lock(&l->lock);
		first = timer_heap_peek(&l->timers);
		if (first == NULL || first->due_ms > now) {
			wait = first == NULL ? POLL_MAX_MS :
			    (int)(first->due_ms - now > POLL_MAX_MS ?
			    POLL_MAX_MS : first->due_ms - now);
			pthread_mutex_unlock(&l->lock);
			return wait;
		}
		timer_heap_pop(&l->timers, &t);
		pthread_mutex_unlock(&l->lock);
		t.fn(t.arg);
	}
}

static void
adopt_transfers(struct loop *l)
{
	struct transfer *t, *next;

	pthread_mutex_lock(&l->lock);
	t = l->incoming;
	l->incoming = NULL;
	pthread_mutex_unlock(&l->lock);
	for (; t != NULL; t = next) {
		next = t->next;
		curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
		if (curl_multi_add_handle(l->multi, t->easy) != CURLM_OK) {
			t->done(t->arg, t->easy, CURLE_FAILED_INIT);
			free(t);
			continue;
		}
		t->prev = NULL;
		t->next = l->running;
		if (l->running != NULL)
			l->running->prev = t;
		l->running = t;
		t->queued = t->deadline_ms > 0;
		if (t->queued)
			timer_heap_push(&l->deadlines, t->deadline_ms, NULL, t,
			    &t->slot);
	}
}

/* Unlinks a running transfer from the list and its deadline. */
static void
unlink_running(struct loop *l, struct transfer *t)
{
	struct timer_entry e;

	if (t->queued)
		timer_heap_cancel(&l->deadlines, t->slot, &e);
	t->queued = 0;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		l->running = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

/* The record of a running transfer, from its easy handle, unlinked. */
static struct transfer *
take_running(struct loop *l, CURL *easy)
{
	struct transfer *t = NULL;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t) != CURLE_OK ||
	    t == NULL || t->easy != easy)
		return NULL;
	unlink_running(l, t);
	return t;
}

/* Ends every transfer past its deadline (one still waiting for a
 * connection); returns ms until the next deadline. */
static int
expire_transfers(struct loop *l)
{
	const struct timer_entry *first;
	struct transfer *t;
	long long now = clock_now_ms();

	while ((first = timer_heap_peek(&l->deadlines)) != NULL &&
	    first->due_ms <= now) {
		t = first->arg;
		unlink_running(l, t);     /* cancels the entry: it is first */
		curl_multi_remove_handle(l->multi, t->easy);
		t->done(t->arg, t->easy, CURLE_OPERATION_TIMEDOUT);
		free(t);
	}
	if (first == NULL)
		return POLL_MAX_MS;
	return first->due_ms - now > POLL_MAX_MS ? POLL_MAX_MS :
	    (int)(first->due_ms - now);
}

static void
finish_transfers(struct loop *l)
{
	struct transfer *t;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;

		curl_multi_remove_handle(l->multi, easy);
		if ((t = take_running(l, easy)) != NULL) {
			t->done(t->arg, easy, rc);
			free(t);
		}
	}
}

static void *
loop_thread(void *arg)
{
	struct loop *l = arg;
	int wait, expiry, still;

	while (!atomic_load(&l->stopping)) {
		wait = run_timers(l);
		expiry = expire_transfers(l);
		if (expiry < wait)
			wait = expiry;
		adopt_transfers(l);
		curl_multi_perform(l->multi, &still);
		finish_transfers(l);
		if (atomic_load(&l->stopping))
			break;
		curl_multi_poll(l->multi, NULL, 0, wait, NULL);
	}
	return NULL;
}

int
loop_start(struct loop *l)
{
	if (pthread_create(&l->thread, NULL, loop_thread, l) != 0)
		return -1;
	l->started = 1;
	return 0;
}

static void
drop_timers(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	timer_heap_clear(&l->timers);
	pthread_mutex_unlock(&l->lock);
}

void
loop_stop(struct loop *l)
{
	struct transfer *t;

	if (l == NULL || !l->started)
		return;
	atomic_store(&l->stopping, 1);
	curl_multi_wakeup(l->multi);
	pthread_join(l->thread, NULL);
	l->started = 0;
	/* Transfers get their callback; timers are dropped (the worker drains
	 * its requests before stopping the loop, so only periodic jobs such
	 * as the reaper are left). */
	adopt_transfers(l);
	while ((t = l->running) != NULL) {
		unlink_running(l, t);
		curl_multi_remove_handle(l->multi, t->easy);
		t->done(t->arg, t->easy, CURLE_ABORTED_BY_CALLBACK);
		free(t);
	}
	drop_timers(l);
}

void
loop_destroy(struct loop *l)
{
	if (l == NULL)
		return;
	loop_stop(l);
	drop_timers(l);     /* added after the stop, e.g. by the executor */
	curl_multi_cleanup(l->multi);
	timer_heap_free(&l->timers);
	timer_heap_free(&l->deadlines);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

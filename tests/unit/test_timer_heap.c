/* The loop's timers: earliest first, equal due times in the order they
 * were added, through the heap alone and through a running loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "loop.h"
#include "timer_heap.h"
#include "unit.h"

#define MANY 20000

static void
noop(void *arg)
{
	(void)arg;
}

/* Many timers over few distinct due times: popped in (due, insertion)
 * order, every one exactly once. */
static void
test_timer_heap_orders_many_with_ties(void)
{
	struct timer_heap h;
	struct timer_entry e;
	static long long due[MANY];
	static unsigned char seen[MANY];
	long long last_due = -1;
	size_t last_idx = 0, idx, popped = 0;
	unsigned r = 12345;
	size_t i;

	timer_heap_init(&h);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < MANY; i++) {
		r = r * 1103515245u + 12345u;
		due[i] = 1000 + (r >> 16) % 37;      /* ~540 per due time */
		timer_heap_push(&h, due[i], noop, (void *)(i + 1), NULL);
	}
	CU_ASSERT_EQUAL(h.n, MANY);
	while (timer_heap_pop(&h, &e) == 0) {
		idx = (size_t)e.arg - 1;
		CU_ASSERT_FATAL(idx < MANY);
		CU_ASSERT_EQUAL(seen[idx], 0);
		seen[idx] = 1;
		CU_ASSERT_EQUAL(e.due_ms, due[idx]);
		CU_ASSERT(e.due_ms >= last_due);
		if (e.due_ms == last_due)
			CU_ASSERT(idx > last_idx);   /* ties: first in, first out */
		last_due = e.due_ms;
		last_idx = idx;
		popped++;
	}
	CU_ASSERT_EQUAL(popped, MANY);
	CU_ASSERT_PTR_NULL(timer_heap_peek(&h));
	timer_heap_free(&h);
}

/* Pushes between pops (as a running loop does) keep the order. */
static void
test_timer_heap_interleaved(void)
{
	struct timer_heap h;
	struct timer_entry e;
	long long now = 0;
	unsigned r = 7;
	int i, k;

	timer_heap_init(&h);
	for (i = 0; i < 2000; i++) {
		for (k = 0; k < 3; k++) {
			r = r * 1103515245u + 12345u;
			timer_heap_push(&h, now + (r >> 16) % 100, noop, NULL,
			    NULL);
		}
		CU_ASSERT_EQUAL_FATAL(timer_heap_pop(&h, &e), 0);
		CU_ASSERT(e.due_ms >= now);
		now = e.due_ms;
		CU_ASSERT(timer_heap_peek(&h)->due_ms >= now);
	}
	timer_heap_clear(&h);
	CU_ASSERT_EQUAL(timer_heap_pop(&h, &e), -1);
	timer_heap_free(&h);
}

/* Entries cancelled through their slot never come out; the rest still
 * come out in order, and every slot tracks its entry as it moves. */
static void
test_timer_heap_cancel_by_slot(void)
{
	enum { N = 3000 };
	struct timer_heap h;
	struct timer_entry e;
	static size_t slot[N];
	static unsigned char cancelled[N];
	long long last = -1;
	unsigned r = 99;
	size_t i, idx, left = 0;

	timer_heap_init(&h);
	memset(cancelled, 0, sizeof(cancelled));
	for (i = 0; i < N; i++) {
		r = r * 1103515245u + 12345u;
		timer_heap_push(&h, (r >> 16) % 500, noop, (void *)i, &slot[i]);
	}
	for (i = 0; i < N; i += 3) {
		CU_ASSERT_FATAL(slot[i] < h.n);
		CU_ASSERT_PTR_EQUAL_FATAL(h.v[slot[i]].arg, (void *)i);
		CU_ASSERT_EQUAL(timer_heap_cancel(&h, slot[i], &e), 0);
		CU_ASSERT_PTR_EQUAL(e.arg, (void *)i);
		cancelled[i] = 1;
	}
	for (i = 0; i < h.n; i++)
		CU_ASSERT_EQUAL(slot[(size_t)h.v[i].arg], i);
	while (timer_heap_pop(&h, &e) == 0) {
		idx = (size_t)e.arg;
		CU_ASSERT_EQUAL(cancelled[idx], 0);
		CU_ASSERT(e.due_ms >= last);
		last = e.due_ms;
		left++;
	}
	CU_ASSERT_EQUAL(left, N - (N + 2) / 3);
	CU_ASSERT_EQUAL(timer_heap_cancel(&h, 0, &e), -1);
	timer_heap_free(&h);
}

struct record {
	pthread_mutex_t lock;
	int             order[400];
	int             n;
};

static struct record rec = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 };

static void
remember(void *arg)
{
	pthread_mutex_lock(&rec.lock);
	if (rec.n < 400)
		rec.order[rec.n++] = (int)(long)arg;
	pthread_mutex_unlock(&rec.lock);
}

/* Through the loop: 200 timers at 60 ms and 200 at 0 ms, added
 * alternately, run the 0 ms ones first, each group in the order added. */
static void
test_loop_runs_timers_in_due_order(void)
{
	struct loop *l = loop_create();
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, n, tries;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	rec.n = 0;
	for (i = 0; i < 200; i++) {
		loop_after(l, 60, remember, (void *)(long)(1000 + i));
		loop_after(l, 0, remember, (void *)(long)i);
	}
	CU_ASSERT_EQUAL_FATAL(loop_start(l), 0);
	for (tries = 0; tries < 500; tries++) {
		pthread_mutex_lock(&rec.lock);
		n = rec.n;
		pthread_mutex_unlock(&rec.lock);
		if (n == 400)
			break;
		nanosleep(&ts, NULL);
	}
	loop_stop(l);
	CU_ASSERT_EQUAL_FATAL(rec.n, 400);
	for (i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL(rec.order[i], i);
		CU_ASSERT_EQUAL(rec.order[200 + i], 1000 + i);
	}
	loop_destroy(l);
}

struct ended {
	pthread_mutex_t lock;
	int             done;
	CURLcode        rc;
	long long       at_ms;
};

static void
transfer_ended(void *arg, CURL *easy, CURLcode rc)
{
	struct ended *e = arg;

	(void)easy;
	pthread_mutex_lock(&e->lock);
	e->done = 1;
	e->rc = rc;
	e->at_ms = clock_now_ms();
	pthread_mutex_unlock(&e->lock);
}

/* A transfer to a server that never answers (a listening socket nobody
 * accepts on), with no timeout of its own in libcurl: the loop ends it at
 * the timeout it was added with, as it does one left waiting for a
 * connection. */
static void
test_loop_ends_a_transfer_at_its_deadline(void)
{
	struct ended e = { PTHREAD_MUTEX_INITIALIZER, 0, CURLE_OK, 0 };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct loop *l;
	CURL *easy;
	char url[64];
	long long started;
	int fd, tries, done = 0;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(fd, 8) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(sa.sin_port));
	easy = curl_easy_init();
	l = loop_create();
	CU_ASSERT_PTR_NOT_NULL_FATAL(easy);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	CU_ASSERT_EQUAL_FATAL(loop_start(l), 0);
	started = clock_now_ms();
	loop_add_transfer(l, easy, 300, transfer_ended, &e);
	for (tries = 0; tries < 500 && !done; tries++) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&e.lock);
		done = e.done;
		pthread_mutex_unlock(&e.lock);
	}
	loop_stop(l);
	CU_ASSERT_EQUAL(e.done, 1);
	CU_ASSERT_EQUAL(e.rc, CURLE_OPERATION_TIMEDOUT);
	/* Generous bounds: not before the deadline, and well before 5 s. */
	CU_ASSERT(e.at_ms - started >= 300);
	CU_ASSERT(e.at_ms - started < 3000);
	loop_destroy(l);
	curl_easy_cleanup(easy);
	close(fd);
}

void
suite_timer_heap(void)
{
	CU_pSuite s = CU_add_suite("timer_heap", NULL, NULL);

	ADD_TEST(s, test_timer_heap_orders_many_with_ties);
	ADD_TEST(s, test_timer_heap_interleaved);
	ADD_TEST(s, test_timer_heap_cancel_by_slot);
	ADD_TEST(s, test_loop_runs_timers_in_due_order);
	ADD_TEST(s, test_loop_ends_a_transfer_at_its_deadline);
}

/* The loop's timers: earliest first, equal due times in the order they
 * were added, through the heap alone and through a running loop. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
		CU_ASSERT_EQUAL_FATAL(timer_heap_push(&h, due[i], noop,
		    (void *)(i + 1)), 0);
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
			CU_ASSERT_EQUAL(timer_heap_push(&h, now + (r >> 16) % 100,
			    noop, NULL), 0);
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
		CU_ASSERT_EQUAL(loop_after(l, 60, remember, (void *)(long)(1000 + i)), 0);
		CU_ASSERT_EQUAL(loop_after(l, 0, remember, (void *)(long)i), 0);
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

void
suite_timer_heap(void)
{
	CU_pSuite s = CU_add_suite("timer_heap", NULL, NULL);

	ADD_TEST(s, test_timer_heap_orders_many_with_ties);
	ADD_TEST(s, test_timer_heap_interleaved);
	ADD_TEST(s, test_loop_runs_timers_in_due_order);
}

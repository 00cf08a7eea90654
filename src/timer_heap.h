/* timer_heap: the loop's pending timers as a binary min-heap, ordered by
 * due time and, among equal due times, by insertion (first in, first
 * run). Insert, pop and cancel are O(log n), so many parked requests each
 * waiting on a timer cost no more than a logarithm each. An entry pushed
 * with a slot has its current position kept in *slot, which is what
 * cancelling it takes. Not thread-safe: the loop guards it with its lock. */
#ifndef KEYROTA_TIMER_HEAP_H
#define KEYROTA_TIMER_HEAP_H

#include <stddef.h>

struct timer_entry {
	long long           due_ms;
	unsigned long long  seq;         /* insertion order, for ties */
	void              (*fn)(void *arg);
	void               *arg;
	size_t             *slot;        /* NULL, or kept = this position */
};

struct timer_heap {
	struct timer_entry *v;
	size_t              n;
	size_t              cap;
	unsigned long long  next_seq;
};

void   timer_heap_init(struct timer_heap *h);
void   timer_heap_free(struct timer_heap *h);
void   timer_heap_push(struct timer_heap *h, long long due_ms,
           void (*fn)(void *arg), void *arg, size_t *slot);
/* The earliest entry, or NULL when empty. */
const struct timer_entry *timer_heap_peek(const struct timer_heap *h);
/* Removes the earliest entry into *out; returns 0, or -1 when empty. */
int    timer_heap_pop(struct timer_heap *h, struct timer_entry *out);
/* Removes the entry now at position pos (its *slot) into *out; returns 0,
 * or -1 when there is none. */
int    timer_heap_cancel(struct timer_heap *h, size_t pos,
           struct timer_entry *out);
/* Empties the heap without running anything; keeps the allocation. */
void   timer_heap_clear(struct timer_heap *h);

#endif

#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>

#include "timer_heap.h"

#define HEAP_FIRST_CAP 64

void
timer_heap_init(struct timer_heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->next_seq = 0;
}

void
timer_heap_free(struct timer_heap *h)
{
	free(h->v);
	timer_heap_init(h);
}

void
timer_heap_clear(struct timer_heap *h)
{
	h->n = 0;
}

static int
before(const struct timer_entry *a, const struct timer_entry *b)
{
	return a->due_ms < b->due_ms ||
	    (a->due_ms == b->due_ms && a->seq < b->seq);
}

int
timer_heap_push(struct timer_heap *h, long long due_ms,
    void (*fn)(void *arg), void *arg)
{
	struct timer_entry e, *v;
	size_t i, parent, cap;

	if (h->n == h->cap) {
		cap = h->cap ? h->cap * 2 : HEAP_FIRST_CAP;
		if (cap < h->cap || cap > SIZE_MAX / sizeof(*v))
			return -1;
		if ((v = realloc(h->v, cap * sizeof(*v))) == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	e.due_ms = due_ms;
	e.seq = h->next_seq++;
	e.fn = fn;
	e.arg = arg;
	/* Sift up: move parents down until e's place is found. */
	for (i = h->n++; i > 0; i = parent) {
		parent = (i - 1) / 2;
		if (!before(&e, &h->v[parent]))
			break;
		h->v[i] = h->v[parent];
	}
	h->v[i] = e;
	return 0;
}

const struct timer_entry *
timer_heap_peek(const struct timer_heap *h)
{
	return h->n > 0 ? &h->v[0] : NULL;
}

int
timer_heap_pop(struct timer_heap *h, struct timer_entry *out)
{
	struct timer_entry last;
	size_t i, child;

	if (h->n == 0)
		return -1;
	*out = h->v[0];
	last = h->v[--h->n];
	/* Sift down the last entry from the root. */
	for (i = 0; (child = 2 * i + 1) < h->n; i = child) {
		if (child + 1 < h->n && before(&h->v[child + 1], &h->v[child]))
			child++;
		if (!before(&h->v[child], &last))
			break;
		h->v[i] = h->v[child];
	}
	if (h->n > 0)
		h->v[i] = last;
	return 0;
}

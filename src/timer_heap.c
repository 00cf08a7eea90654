#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
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

static void
place(struct timer_heap *h, size_t i, const struct timer_entry *e)
{
	h->v[i] = *e;
	if (e->slot != NULL)
		*e->slot = i;
}

/* Moves e up from position i to where it belongs. */
static void
sift_up(struct timer_heap *h, size_t i, const struct timer_entry *e)
{
	size_t parent;

	for (; i > 0; i = parent) {
		parent = (i - 1) / 2;
		if (!before(e, &h->v[parent]))
			break;
		place(h, i, &h->v[parent]);
	}
	place(h, i, e);
}

/* Moves e down from position i to where it belongs. */
static void
sift_down(struct timer_heap *h, size_t i, const struct timer_entry *e)
{
	size_t child;

	for (; (child = 2 * i + 1) < h->n; i = child) {
		if (child + 1 < h->n && before(&h->v[child + 1], &h->v[child]))
			child++;
		if (!before(&h->v[child], e))
			break;
		place(h, i, &h->v[child]);
	}
	place(h, i, e);
}

void
timer_heap_push(struct timer_heap *h, long long due_ms,
    void (*fn)(void *arg), void *arg, size_t *slot)
{
	struct timer_entry e;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : HEAP_FIRST_CAP;
		h->v = kr_reallocarray(h->v, h->cap, sizeof(*h->v));
	}
	e.due_ms = due_ms;
	e.seq = h->next_seq++;
	e.fn = fn;
	e.arg = arg;
	e.slot = slot;
	sift_up(h, h->n++, &e);
}

const struct timer_entry *
timer_heap_peek(const struct timer_heap *h)
{
	return h->n > 0 ? &h->v[0] : NULL;
}

int
timer_heap_cancel(struct timer_heap *h, size_t pos, struct timer_entry *out)
{
	struct timer_entry last;

	if (pos >= h->n)
		return -1;
	*out = h->v[pos];
	last = h->v[--h->n];
	/* The last entry fills the hole, then moves whichever way it must. */
	if (pos < h->n) {
		if (pos > 0 && before(&last, &h->v[(pos - 1) / 2]))
			sift_up(h, pos, &last);
		else
			sift_down(h, pos, &last);
	}
	return 0;
}

int
timer_heap_pop(struct timer_heap *h, struct timer_entry *out)
{
	return timer_heap_cancel(h, 0, out);
}

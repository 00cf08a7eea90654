/* policy_set: the policy lines a worker's decisions read, shared.
 *
 * Every decision loads the lines from PostgreSQL (they may change at any
 * time), but while they do not change, the decisions parked on the model
 * share one immutable, reference-counted copy per worker process instead
 * of each holding its own (some 8 KiB each). Thread-safe. */
#ifndef KEYROTA_POLICY_SET_H
#define KEYROTA_POLICY_SET_H

#include <stdatomic.h>
#include <stddef.h>

#include "answer.h"

struct policy_set {
	atomic_uint        refs;
	size_t             n;
	struct policy_line lines[];
};

/* A reference to a set equal to lines[0..n): the worker's current one
 * when it is equal, else a new copy that becomes current. */
const struct policy_set *policy_set_share(const struct policy_line *lines,
                             size_t n);
/* Drops a reference (NULL is ignored). */
void policy_set_release(const struct policy_set *s);

#endif

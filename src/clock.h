/* clock: monotonic time in milliseconds, for deadlines and latencies. */
#ifndef KEYROTA_CLOCK_H
#define KEYROTA_CLOCK_H

#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary but fixed origin). */
long long clock_now_ms(void);
/* Milliseconds since a CLOCK_MONOTONIC reading. */
long      clock_since_ms(const struct timespec *since);

#endif

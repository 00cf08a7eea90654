/* loop: one event-loop thread per worker process.
 *
 * It drives everything that waits without holding a thread: timers (the
 * fixture's simulated latency, retry backoff, the reaper) and, through its
 * libcurl multi handle, every model call in flight. A parked request costs
 * a little memory, not a thread or a database connection. Timers sit in a
 * min-heap and a finished transfer is found from its easy handle, so many
 * parked requests cost O(log n) each. The multi handle multiplexes HTTP/2
 * and bounds the connections to one host; transfers past the bound wait
 * for one inside their own timeout. Callbacks run on
 * the loop thread, one at a time, and must never wait on the database:
 * database steps go to the executor (executor.h). */
#ifndef KEYROTA_LOOP_H
#define KEYROTA_LOOP_H

#include <curl/curl.h>

struct loop;

typedef void (*loop_fn)(void *arg);
/* A transfer finished (result is its CURLcode); the easy handle is the
 * callback's again. */
typedef void (*loop_transfer_fn)(void *arg, CURL *easy, CURLcode result);

struct loop *loop_create(void);
int          loop_start(struct loop *l);
/* Stops the thread and joins it. Transfers still running are cancelled
 * (their callbacks get CURLE_ABORTED_BY_CALLBACK); pending timers are
 * dropped without running. Timers added after the stop never run; they
 * are freed by loop_destroy. */
void         loop_stop(struct loop *l);
void         loop_destroy(struct loop *l);

/* Calls fn(arg) on the loop thread after ms milliseconds. Thread-safe. */
void         loop_after(struct loop *l, unsigned ms, loop_fn fn, void *arg);
/* Adds a prepared easy handle; done runs on the loop thread when it ends.
 * The loop owns the handle's CURLOPT_PRIVATE until then. timeout_ms (0:
 * none) should be the handle's CURLOPT_TIMEOUT_MS: a transfer still
 * waiting for a connection a moment past it ends with
 * CURLE_OPERATION_TIMEDOUT. Thread-safe. */
void         loop_add_transfer(struct loop *l, CURL *easy,
                 unsigned timeout_ms, loop_transfer_fn done, void *arg);

#endif

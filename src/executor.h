/* executor: a few threads per worker process that run database work.
 *
 * The loop thread (loop.h) drives every parked request, model call and
 * timer of its process, so it must never wait on PostgreSQL; and accept
 * threads should not either, or /healthz would queue behind the database.
 * Both hand their database steps to the executor instead: jobs run in the
 * order they were submitted, each on one executor thread, and may block
 * there (bounded by the database pool's deadlines). Jobs submitted as
 * urgent (a decision's terminal write) run before any ordinary one: work
 * already admitted is finished before more is started, so a flood of new
 * decisions cannot hold back the answers of those in flight. */
#ifndef KEYROTA_EXECUTOR_H
#define KEYROTA_EXECUTOR_H

struct executor;

typedef void (*executor_fn)(void *arg);

struct executor *executor_create(unsigned nthreads);
/* Runs fn(arg) on an executor thread. Thread-safe. Returns 0, or -1 when
 * stopping (fn is then never called). */
int              executor_submit(struct executor *ex, executor_fn fn,
                     void *arg);
/* executor_submit, ahead of every ordinary job (in order among urgent
 * ones). */
int              executor_submit_urgent(struct executor *ex, executor_fn fn,
                     void *arg);
/* Runs the jobs still queued, then joins the threads. Jobs submitted from
 * here on are refused. */
void             executor_destroy(struct executor *ex);

#endif

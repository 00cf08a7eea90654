/* reaper: turns traces left `running` by a lost worker into
 * failed/worker_lost once their deadline_at (stored when the trace started:
 * the starting instance's model deadline plus its grace period) has passed,
 * whichever instance started them. Every worker process runs it on its
 * loop; the single UPDATE it issues is safe when several processes or
 * instances race.
 *
 * The same round applies trace retention (README, "Trace retention"):
 * with KEYROTA_TRACE_RETENTION_DAYS set, finished traces and eval runs
 * older than that go, a bounded batch a round, through keyrota_expire. */
#ifndef KEYROTA_REAPER_H
#define KEYROTA_REAPER_H

struct app;

/* Schedules the reaper on app->loop, every KEYROTA_REAPER_INTERVAL_MS. */
void reaper_schedule(struct app *app);

#endif

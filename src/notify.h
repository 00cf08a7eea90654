/* notify: tells the service manager how the pool is doing (systemd's
 * sd_notify protocol: READY=1, RELOADING=1, STOPPING=1, STATUS=).
 *
 * Only the supervisor talks to systemd. Workers report to it through a
 * pipe once their accept threads run, so READY=1 means "this generation of
 * workers accepts", both at start and after a reload. Without NOTIFY_SOCKET
 * in the environment, or in a build without libsystemd, every call does
 * nothing. See README, "Install on Debian". */
#ifndef KEYROTA_NOTIFY_H
#define KEYROTA_NOTIFY_H

/* Supervisor, before the first fork: opens the workers' report pipe. */
void notify_init(void);
/* Supervisor: a generation of n workers is starting (at start and on each
 * reload); READY=1 follows once all n have reported. */
void notify_generation(unsigned n);
/* Supervisor, on every loop turn: reads worker reports, sends READY=1 when
 * the generation is complete and STATUS= when the decisions in flight
 * changed (at most once a second). */
void notify_poll(void);
void notify_reloading(void);
void notify_stopping(void);

/* Worker, once its accept threads run. */
void notify_worker_accepting(void);

#endif

#include "autoconfig.h"

#include "notify.h"

#ifdef HAVE_LIBSYSTEMD

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "metrics.h"

#define STATUS_EVERY_MS 1000

/* Supervisor state; a worker only uses its copy of report_fd and
 * generation, taken at fork. */
static int       enabled;
static int       report_fd[2] = { -1, -1 };
static uint32_t  generation;
static unsigned  expected, reported;
static int       ready_due;
static long      last_in_flight = -1;
static long long last_status_ms;

void
notify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	if (s == NULL || *s == '\0')
		return;
	if (pipe2(report_fd, O_CLOEXEC | O_NONBLOCK) != 0) {
		/* Without reports READY=1 goes out at once below. */
		report_fd[0] = report_fd[1] = -1;
	}
	enabled = 1;
}

void
notify_generation(unsigned n)
{
	if (!enabled)
		return;
	generation++;
	expected = n;
	reported = 0;
	ready_due = 1;
}

static void
send_ready(void)
{
	long in_flight = metrics_decisions_in_flight();

	sd_notifyf(0, "READY=1\nSTATUS=%u workers accepting, %ld decisions "
	    "in flight", expected, in_flight);
	last_in_flight = in_flight;
	last_status_ms = clock_now_ms();
	ready_due = 0;
}

void
notify_poll(void)
{
	uint32_t gen;
	long in_flight;
	long long now;

	if (!enabled)
		return;
	while (report_fd[0] >= 0 &&
	    read(report_fd[0], &gen, sizeof(gen)) == (ssize_t)sizeof(gen))
		if (gen == generation)
			reported++;
	if (ready_due && (reported >= expected || report_fd[0] < 0))
		send_ready();
	if (ready_due)
		return;
	now = clock_now_ms();
	in_flight = metrics_decisions_in_flight();
	if (in_flight != last_in_flight &&
	    now - last_status_ms >= STATUS_EVERY_MS) {
		sd_notifyf(0, "STATUS=%u workers accepting, %ld decisions in "
		    "flight", expected, in_flight);
		last_in_flight = in_flight;
		last_status_ms = now;
	}
}

void
notify_reloading(void)
{
	struct timespec ts;

	if (!enabled)
		return;
	/* MONOTONIC_USEC lets systemd tell this reload from an earlier one. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading: "
	    "starting a new generation of workers",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_stopping(void)
{
	if (!enabled)
		return;
	sd_notifyf(0, "STOPPING=1\nSTATUS=stopping: draining %ld decisions "
	    "in flight", metrics_decisions_in_flight());
}

void
notify_worker_accepting(void)
{
	ssize_t n;

	if (report_fd[1] < 0)
		return;
	/* Four bytes are written atomically, and the pipe holds thousands
	 * of reports, far more than there are workers. */
	n = write(report_fd[1], &generation, sizeof(generation));
	(void)n;
	close(report_fd[0]);
	close(report_fd[1]);
	report_fd[0] = report_fd[1] = -1;
}

#else /* !HAVE_LIBSYSTEMD: nobody to tell */

void notify_init(void) {}
void notify_generation(unsigned n) { (void)n; }
void notify_poll(void) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_worker_accepting(void) {}

#endif

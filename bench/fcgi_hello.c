/* fcgi_hello: the ceiling of /healthz for scripts/bench. A bare libfcgi
 * responder, not part of keyrota: P processes of T threads, each thread
 * accepting on the same socket and answering every request with a fixed
 * 200 "ok", as keyrota's /healthz does without its checks.
 *
 *   fcgi_hello SOCKET_PATH PROCESSES THREADS
 *
 * The bench stops keyrota and starts this on keyrota's socket, so nginx's
 * own configuration routes /healthz here unchanged. SIGTERM or SIGINT to
 * the first process stops every process it started. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define THREADS_MAX 256
#define PROCS_MAX   64

static int listen_fd;

static void *
serve(void *arg)
{
	FCGX_Request req;

	(void)arg;
	if (FCGX_InitRequest(&req, listen_fd, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: text/plain\r\n"
		    "Content-Length: 3\r\n\r\nok\n", req.out);
		FCGX_Finish_r(&req);
	}
	return NULL;
}

static int
number(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > max)
		return -1;
	return (int)v;
}

static void
run_process(int threads)
{
	pthread_t t[THREADS_MAX];
	int i;

	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, serve, NULL) != 0)
			_exit(1);
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

int
main(int argc, char **argv)
{
	int procs, threads, i, sig;
	pid_t pid, kids[PROCS_MAX];
	sigset_t stop;

	if (argc != 4 || (procs = number(argv[2], PROCS_MAX)) < 0 ||
	    (threads = number(argv[3], THREADS_MAX)) < 0) {
		fprintf(stderr, "usage: fcgi_hello SOCKET PROCESSES THREADS\n");
		return 2;
	}
	if (FCGX_Init() != 0)
		return 1;
	unlink(argv[1]);
	if ((listen_fd = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		fprintf(stderr, "fcgi_hello: cannot listen on %s\n", argv[1]);
		return 1;
	}
	chmod(argv[1], 0666);       /* nginx's workers run as another user */
	/* Blocked before the forks: the parent waits for it; the children
	 * take it with the default action. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) < 0)
			break;
		if (pid == 0) {
			sigprocmask(SIG_UNBLOCK, &stop, NULL);
			run_process(threads);
		}
		kids[i] = pid;
	}
	procs = i;
	sigwait(&stop, &sig);
	/* libfcgi takes SIGTERM in the children for a graceful stop that
	 * waits for a request: they are killed instead. */
	for (i = 0; i < procs; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	unlink(argv[1]);
	return 0;
}

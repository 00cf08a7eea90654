/* listener: the FastCGI listening socket.
 *
 * Taken, in this order, from systemd socket activation (LISTEN_FDS=1 with
 * LISTEN_PID naming this process: fd 3, read with sd_listen_fds in a build
 * with libsystemd; more than one socket is refused), from fd 0 when it is a listening
 * socket (spawn-fcgi, systemd StandardInput=socket), or created from
 * KEYROTA_LISTEN: a unix socket with mode 0660, or a TCP address. */
#ifndef KEYROTA_LISTENER_H
#define KEYROTA_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

struct config;

struct listener {
	int  fd;
	int  inherited;         /* handed to us: never unlinked or closed early */
	char path[108];         /* a unix socket keyrota created, else "" */
};

/* owner/group: given to a created unix socket when running as root
 * ((uid_t)-1 leaves it unchanged). */
int  listener_open(struct listener *l, const struct config *cfg, uid_t owner,
         gid_t group, char *err, size_t errlen);
void listener_close(struct listener *l);
/* The longest listen queue the kernel grants (net.core.somaxconn), which
 * a created socket asks for: a burst waits there rather than being
 * refused (nginx answers 502 when a unix socket's queue is full). */
int  listener_backlog(void);
/* What the listen queue should hold beyond the in-flight cap: pages,
 * probes and refusals arriving with a burst. */
#define LISTEN_QUEUE_SPARE 1024u

#endif

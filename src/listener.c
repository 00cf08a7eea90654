#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "errors.h"
#include "listener.h"

/* Where /proc says how long a listen queue the kernel allows. */
#define SOMAXCONN_PATH "/proc/sys/net/core/somaxconn"

int
listener_backlog(void)
{
	char line[32];
	unsigned v;
	size_t n;
	FILE *f;

	if ((f = fopen(SOMAXCONN_PATH, "re")) == NULL)
		return SOMAXCONN;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	if (config_parse_uint(line, 1, INT_MAX, &v) != 0)
		return SOMAXCONN;
	return (int)v;
}

static int
is_listening_socket(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

#ifdef HAVE_LIBSYSTEMD
/* systemd socket activation: exactly one stream socket from fd 3.
 * sd_listen_fds checks LISTEN_PID and clears the variables, so workers and
 * anything they start never see them. Returns the fd, -1 when none was
 * passed, -2 (with err) when what was passed is unusable. */
static int
activated_fd(char *err, size_t errlen)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return -1;
	if (n > 1 || sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM,
	    1) <= 0) {
		kr_errorf(err, errlen,
		    "socket activation: %d descriptor%s passed; "
		    "keyrota takes one listening stream socket", n,
		    n == 1 ? "" : "s");
		return -2;
	}
	return SD_LISTEN_FDS_START;
}
#else
/* systemd passes LISTEN_FDS sockets from fd 3 when LISTEN_PID is ours. */
static int
activated_fd(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned v;
	int fd = -1;

	(void)err;
	(void)errlen;
	if (pid != NULL && fds != NULL && config_parse_uint(pid, 1, INT_MAX,
	    &v) == 0 && (pid_t)v == getpid() && strcmp(fds, "1") == 0 &&
	    is_listening_socket(3))
		fd = 3;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	return fd;
}
#endif

/* Gives the socket file just bound to owner:group. The directory may
 * belong to the service user, who could swap the path for a symlink or a
 * link to another file between bind() and a chown() by name; so the
 * path is opened without following links, the inode is checked to be a
 * socket this process created, and that very inode is changed. */
static int
chown_socket(const char *path, uid_t owner, gid_t group)
{
	struct stat st;
	int fd, rc = -1;

	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		errno = EPERM;
		goto out;
	}
	rc = fchownat(fd, "", owner, group, AT_EMPTY_PATH);
out:
	if (rc != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

static int
open_unix(struct listener *l, const char *path, uid_t owner, gid_t group,
    char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return kr_errorf(err, errlen, "KEYROTA_LISTEN: path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return kr_errorf(err, errlen, "socket: %s", strerror(errno));
	/* A socket file left by a dead keyrota is removed; a live one is not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			return kr_errorf(err, errlen,
			    "KEYROTA_LISTEN: %s exists "
			    "and is not a socket", path);
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return kr_errorf(err, errlen,
			    "KEYROTA_LISTEN: %s is in use "
			    "by a running server", path);
		}
		unlink(path);
		close(fd);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return kr_errorf(err, errlen,
			    "socket: %s", strerror(errno));
	}
	old = umask(0117);      /* srw-rw----: the web server's group only */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, listener_backlog()) != 0) {
		rc = errno;
		close(fd);
		return kr_errorf(err, errlen,
		    "KEYROTA_LISTEN: cannot listen on %s: %s",
		    path, strerror(rc));
	}
	if (owner != (uid_t)-1 && chown_socket(path, owner, group) != 0) {
		rc = errno;
		close(fd);
		unlink(path);
		return kr_errorf(err, errlen,
		    "KEYROTA_LISTEN: chown %s: %s", path,
		    strerror(rc));
	}
	l->fd = fd;
	memcpy(l->path, path, strlen(path) + 1);
	return 0;
}

static int
open_tcp(struct listener *l, const char *host, unsigned port, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	int fd = -1, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return kr_errorf(err, errlen, "KEYROTA_LISTEN: %s: %s", host,
		    gai_strerror(rc));
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    res->ai_protocol);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, listener_backlog()) != 0) {
		rc = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return kr_errorf(err, errlen,
		    "KEYROTA_LISTEN: cannot listen on "
		    "%s:%u: %s", host, port, strerror(rc));
	}
	freeaddrinfo(res);
	l->fd = fd;
	return 0;
}

int
listener_open(struct listener *l, const struct config *cfg, uid_t owner,
    gid_t group, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if ((l->fd = activated_fd(err, errlen)) == -2)
		return -1;
	if (l->fd < 0 && is_listening_socket(0))
		l->fd = 0;
	if (l->fd >= 0) {
		l->inherited = 1;
		return 0;
	}
	if (cfg->listen_kind == LISTEN_UNIX)
		return open_unix(l, cfg->listen_path, owner, group, err, errlen);
	return open_tcp(l, cfg->listen_host, cfg->listen_port, err, errlen);
}

void
listener_close(struct listener *l)
{
	if (l->fd >= 0 && !l->inherited)
		close(l->fd);
	if (l->path[0] != '\0')
		unlink(l->path);
	l->fd = -1;
	l->path[0] = '\0';
}

#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secret.h"

void
secret_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

int
secret_read(const char *var, const char *path, char *out, size_t *len,
    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	*len = 0;
	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "%s: no key file given", var);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "%s: cannot open %s: %s", var, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", var, path);
		goto fail;
	}
	/* A key belongs to root or to whoever reads it; anyone else could
	 * have put another file's contents, or their own key, in its place. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: %s belongs to uid %u, neither root "
		    "nor this process's user", var, path, (unsigned)st.st_uid);
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: %s is accessible by group or others "
		    "(mode %03o); chmod 600 it", var, path,
		    (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if (st.st_size >= SECRET_MAX) {
		snprintf(err, errlen, "%s: %s holds more than %d bytes", var,
		    path, SECRET_MAX - 1);
		goto fail;
	}
	/* Read to the end; a failed read, or less or more than the size the
	 * file had a moment ago, is an error, never a shorter key. */
	for (;;) {
		n = read(fd, out + got, SECRET_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == SECRET_MAX)
			break;
	}
	if (n < 0 || got != (size_t)st.st_size) {
		snprintf(err, errlen, "%s: %s could not be read whole (%zu of "
		    "%lld bytes%s%s)", var, path, got, (long long)st.st_size,
		    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		goto fail;
	}
	while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r' ||
	    out[got - 1] == ' '))
		got--;
	out[got] = '\0';
	if (got == 0) {
		snprintf(err, errlen, "%s: %s is empty", var, path);
		goto fail;
	}
	close(fd);
	*len = got;
	return 0;
fail:
	secret_wipe(out, SECRET_MAX);
	close(fd);
	return -1;
}

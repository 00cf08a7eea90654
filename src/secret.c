#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secret.h"

void
secret_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

/* Opens a secret file and checks it is a regular file, root's or ours,
 * not accessible by group or others, and smaller than max. Returns the
 * descriptor, or -1 with err set. */
static int
secret_open(const char *var, const char *path, size_t max, struct stat *st,
    char *err, size_t errlen)
{
	int fd;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "%s: no key file given", var);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "%s: cannot open %s: %s", var, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", var, path);
		goto fail;
	}
	/* A key belongs to root or to whoever reads it; anyone else could
	 * have put another file's contents, or their own key, in its place. */
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(err, errlen, "%s: %s belongs to uid %u, neither root "
		    "nor this process's user", var, path, (unsigned)st->st_uid);
		goto fail;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: %s is accessible by group or others "
		    "(mode %03o); chmod 600 it", var, path,
		    (unsigned)(st->st_mode & 0777));
		goto fail;
	}
	if ((unsigned long long)st->st_size >= max) {
		snprintf(err, errlen, "%s: %s holds more than %zu bytes", var,
		    path, max - 1);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Reads the whole file into out (max bytes); a failed read, or less or
 * more than the size the file had a moment ago, is an error, never a
 * shorter secret. Returns the length, or -1 with err set. */
static ssize_t
secret_slurp(const char *var, const char *path, int fd,
    const struct stat *st, char *out, size_t max, char *err, size_t errlen)
{
	ssize_t n;
	size_t got = 0;

	for (;;) {
		n = read(fd, out + got, max - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == max)
			break;
	}
	if (n < 0 || got != (size_t)st->st_size) {
		snprintf(err, errlen, "%s: %s could not be read whole (%zu of "
		    "%lld bytes%s%s)", var, path, got, (long long)st->st_size,
		    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		return -1;
	}
	return (ssize_t)got;
}

int
secret_read(const char *var, const char *path, char *out, size_t *len,
    char *err, size_t errlen)
{
	struct stat st;
	ssize_t got;
	int fd;

	*len = 0;
	if ((fd = secret_open(var, path, SECRET_MAX, &st, err, errlen)) < 0)
		return -1;
	if ((got = secret_slurp(var, path, fd, &st, out, SECRET_MAX, err,
	    errlen)) < 0)
		goto fail;
	while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r' ||
	    out[got - 1] == ' '))
		got--;
	out[got] = '\0';
	if (got == 0) {
		snprintf(err, errlen, "%s: %s is empty", var, path);
		goto fail;
	}
	close(fd);
	*len = (size_t)got;
	return 0;
fail:
	secret_wipe(out, SECRET_MAX);
	close(fd);
	return -1;
}

/* Headers keyrota sets itself, or that would change how the request is
 * framed: a headers file may not set them. */
static const char *const reserved_headers[] = {
	"Authorization", "api-key", "x-api-key", "anthropic-version",
	"Content-Type", "Content-Length", "Host", "Transfer-Encoding",
	"Connection", "Expect", "TE", "Upgrade", "Trailer", "Keep-Alive",
	"Proxy-Connection", "Accept-Encoding",
};

/* An HTTP token character (RFC 9110, "tchar"). */
static int
is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Checks one line (without its newline) and appends it to out as
 * "Name: value\n". Returns NULL, or why the line is refused; the reason
 * never quotes the line. */
static const char *
header_line(const char *s, size_t n, char *out, size_t outlen, size_t *used,
    const char **reserved)
{
	size_t i, name_len, v, vend;

	for (i = 0; i < n; i++)
		if (s[i] == '\0')
			return "holds a NUL byte";
		else if (s[i] == '\r')
			return "holds a carriage return (save the file with "
			    "Unix line ends)";
	for (i = 0; i < n && is_tchar((unsigned char)s[i]); i++)
		;
	name_len = i;
	if (name_len == 0 || i == n || s[i] != ':')
		return "expected \"Name: value\" with a name made of letters, "
		    "digits and !#$%&'*+-.^_`|~";
	for (i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]);
	    i++)
		if (strlen(reserved_headers[i]) == name_len &&
		    strncasecmp(s, reserved_headers[i], name_len) == 0) {
			*reserved = reserved_headers[i];
			return "sets a header keyrota sets itself";
		}
	for (v = name_len + 1; v < n && (s[v] == ' ' || s[v] == '\t'); v++)
		;
	for (vend = n; vend > v && (s[vend - 1] == ' ' || s[vend - 1] == '\t');
	    vend--)
		;
	if (vend == v)
		return "has an empty value";
	for (i = v; i < vend; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    (unsigned char)s[i] == 0x7f)
			return "has a control character in its value";
	if (*used + name_len + 2 + (vend - v) + 2 > outlen)
		return "does not fit: the headers are too long";
	memcpy(out + *used, s, name_len);
	*used += name_len;
	memcpy(out + *used, ": ", 2);
	*used += 2;
	memcpy(out + *used, s + v, vend - v);
	*used += vend - v;
	out[(*used)++] = '\n';
	out[*used] = '\0';
	return NULL;
}

int
secret_read_headers(const char *var, const char *path, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char raw[SECRET_HEADERS_MAX];
	const char *why = NULL, *reserved = NULL;
	struct stat st;
	ssize_t got;
	const char *p, *eol;
	size_t used = 0;
	unsigned lineno = 0;
	int fd, rc = -1;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if ((fd = secret_open(var, path, sizeof(raw), &st, err, errlen)) < 0)
		return -1;
	if ((got = secret_slurp(var, path, fd, &st, raw, sizeof(raw), err,
	    errlen)) < 0)
		goto out;
	for (p = raw; p < raw + got; p = eol + 1) {
		lineno++;
		if ((eol = memchr(p, '\n', (size_t)(raw + got - p))) == NULL)
			eol = raw + got;
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if (p < eol && *p != '#' && (why = header_line(p,
		    (size_t)(eol - p), out, outlen, &used, &reserved)) != NULL)
			break;
	}
	if (why != NULL) {
		snprintf(err, errlen, "%s: %s line %u %s%s%s", var, path, lineno,
		    why, reserved != NULL ? ": " : "",
		    reserved != NULL ? reserved : "");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		secret_wipe(out, outlen);
	secret_wipe(raw, sizeof(raw));
	close(fd);
	return rc;
}

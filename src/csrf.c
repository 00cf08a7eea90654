#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "csrf.h"

#define HOST_MAX 256

int
csrf_https(const char *https_param, const char *forwarded_proto)
{
	return (https_param != NULL && strcasecmp(https_param, "on") == 0) ||
	    (forwarded_proto != NULL && strcasecmp(forwarded_proto, "https") == 0);
}

const char *
csrf_cookie_name(int https)
{
	return https ? "__Host-keyrota_csrf" : "keyrota_csrf";
}

int
csrf_set_cookie(char *out, size_t outlen, const char *token, int https)
{
	int n;

	if (!token_valid(token, CSRF_TOKEN_LEN))
		return -1;
	/* __Host- requires Secure and Path=/ and forbids Domain; over plain
	 * HTTP a Secure cookie would not be kept at all. */
	n = snprintf(out, outlen, "Set-Cookie: %s=%s; Path=/; HttpOnly; "
	    "SameSite=Strict%s\r\n", csrf_cookie_name(https), token,
	    https ? "; Secure" : "");
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int
csrf_cookie_find(const char *header, const char *name, char *out,
    size_t outlen)
{
	const char *p, *end;
	size_t n = strlen(name), len;
	int found = 0;

	for (p = header; p != NULL && *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		if ((end = strchr(p, ';')) == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) <= n || strncmp(p, name, n) != 0 ||
		    p[n] != '=')
			continue;
		if (found++)
			return -1;          /* two of them: which one is ours? */
		len = (size_t)(end - p) - n - 1;
		if (len + 1 > outlen)
			return -1;
		memcpy(out, p + n + 1, len);
		out[len] = '\0';
	}
	return found == 1 ? 0 : -1;
}

/* Splits "host[:port]" (host may be a bracketed IPv6 address) of len n.
 * Returns 0, or -1 when it is not a plain authority (user information,
 * a path, odd characters, a port with a leading zero or out of range). */
static int
split_authority(const char *s, size_t n, unsigned default_port, char *host,
    unsigned *port)
{
	size_t h, i;
	unsigned long v = 0;

	if (n == 0)
		return -1;
	if (s[0] == '[') {
		for (h = 1; h < n && s[h] != ']'; h++)
			if (strchr("0123456789abcdefABCDEF:.", s[h]) == NULL)
				return -1;
		if (h == n)
			return -1;
		h++;
	} else {
		for (h = 0; h < n && s[h] != ':'; h++)
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789.-_", s[h]) == NULL || s[h] == '\0')
				return -1;
	}
	if (h == 0 || h >= HOST_MAX)
		return -1;
	memcpy(host, s, h);
	host[h] = '\0';
	if (h == n) {
		*port = default_port;
		return 0;
	}
	if (s[h] != ':' || h + 1 == n || n - h - 1 > 5 || s[h + 1] == '0')
		return -1;
	for (i = h + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int
csrf_same_origin(const struct csrf_request *r)
{
	char ohost[HOST_MAX], hhost[HOST_MAX];
	unsigned oport, hport, def;
	const char *rest;

	if (r->sec_fetch_site != NULL)
		return strcmp(r->sec_fetch_site, "same-origin") == 0 ||
		    strcmp(r->sec_fetch_site, "none") == 0;
	if (r->origin == NULL)
		return 1;          /* not a browser; the tokens still decide */
	if (r->host == NULL)
		return 0;
	/* A browser serialises an origin as scheme://host[:port], the port
	 * left out when it is the scheme's default. */
	if (r->https && strncmp(r->origin, "https://", 8) == 0) {
		rest = r->origin + 8;
		def = 443;
	} else if (!r->https && strncmp(r->origin, "http://", 7) == 0) {
		rest = r->origin + 7;
		def = 80;
	} else
		return 0;          /* "null", another scheme, anything else */
	if (split_authority(rest, strlen(rest), def, ohost, &oport) != 0 ||
	    split_authority(r->host, strlen(r->host), def, hhost, &hport) != 0)
		return 0;
	return oport == hport && strcasecmp(ohost, hhost) == 0;
}

int
csrf_tokens_match(const char *cookie, const char *field)
{
	return cookie != NULL && field != NULL &&
	    token_valid(cookie, CSRF_TOKEN_LEN) &&
	    token_valid(field, CSRF_TOKEN_LEN) && token_equal(cookie, field);
}

/* csrf: the checks that a form post comes from keyrota's own page, as pure
 * functions of the request's headers (pages.c feeds them; the fuzzers call
 * them directly).
 *
 * A post passes when the browser says so (Sec-Fetch-Site same-origin or
 * none) or, for a browser that sends no Sec-Fetch-Site, when Origin names
 * exactly this site (scheme, host and port); and, always, when the hidden
 * token and the cookie are both well-formed tokens and equal. Behind HTTPS
 * the cookie is "__Host-keyrota_csrf" with Secure, which no sibling host
 * can set. */
#ifndef KEYROTA_CSRF_H
#define KEYROTA_CSRF_H

#include <stddef.h>

#include "token.h"

#define CSRF_BYTES      32
#define CSRF_TOKEN_LEN  TOKEN_LEN(CSRF_BYTES)

struct csrf_request {
	const char *sec_fetch_site;   /* Sec-Fetch-Site, or NULL */
	const char *origin;           /* Origin, or NULL */
	const char *host;             /* the Host header as sent: host[:port] */
	int         https;            /* see csrf_https */
};

/* True when the browser reached the site over HTTPS: nginx's HTTPS
 * parameter is "on", or a TLS proxy in front says X-Forwarded-Proto:
 * https. Either may be NULL. */
int         csrf_https(const char *https_param, const char *forwarded_proto);
/* The cookie's name for the scheme. */
const char *csrf_cookie_name(int https);
/* The Set-Cookie header line (with CRLF) for token into out. Returns 0, or
 * -1 when token is malformed or out too small. */
int         csrf_set_cookie(char *out, size_t outlen, const char *token,
                int https);
/* The value of the cookie name in a Cookie header into out. Returns 0;
 * -1 when it is absent, repeated (ambiguous) or does not fit. */
int         csrf_cookie_find(const char *header, const char *name, char *out,
                size_t outlen);
/* True when the request comes from this site (see above). */
int         csrf_same_origin(const struct csrf_request *r);
/* True when both are well-formed CSRF tokens and equal (constant time). */
int         csrf_tokens_match(const char *cookie, const char *field);

#endif

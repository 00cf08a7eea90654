/* The cookie and CSRF checks of the form flow. Input: lines "Cookie
 * header", "csrf_token field", "Origin", "Host", "Sec-Fetch-Site"; the
 * first byte's low bit is the HTTPS flag. */
#include "autoconfig.h"

#include "csrf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csrf_request r;
	char *s, *f[5], cookie[CSRF_TOKEN_LEN + 1], line[256];
	int https;

	if (size < 1)
		return 0;
	https = data[0] & 1;
	s = fuzz_str(data + 1, size - 1);
	fuzz_fields(s, f, 5);
	if (csrf_cookie_find(f[0], csrf_cookie_name(https), cookie,
	    sizeof(cookie)) == 0) {
		if (strlen(cookie) > CSRF_TOKEN_LEN)
			abort();
		if (csrf_tokens_match(cookie, f[1]) &&
		    (f[1] == NULL || strcmp(cookie, f[1]) != 0))
			abort();
		if (csrf_set_cookie(line, sizeof(line), cookie, https) == 0 &&
		    strchr(line, '\n') != line + strlen(line) - 1)
			abort();          /* header injection */
	}
	r.origin = f[2];
	r.host = f[3];
	r.sec_fetch_site = f[4];
	r.https = https;
	(void)csrf_same_origin(&r);
	free(s);
	return 0;
}

#include "autoconfig.h"

#include <string.h>

#include "router.h"

/* Compares one pattern with a path; on success copies the {param} segment. */
static int
pattern_match(const char *pat, const char *path, char *param, size_t plen)
{
	const char *seg_end, *close;
	size_t n;

	param[0] = '\0';
	while (*pat != '\0' && *path != '\0') {
		if (*pat == '{') {
			if ((close = strchr(pat, '}')) == NULL)
				return 0;
			seg_end = strchr(path, '/');
			n = seg_end ? (size_t)(seg_end - path) : strlen(path);
			if (n == 0 || n >= plen)
				return 0;
			memcpy(param, path, n);
			param[n] = '\0';
			pat = close + 1;
			path += n;
			continue;
		}
		if (*pat != *path)
			return 0;
		pat++;
		path++;
	}
	return *pat == '\0' && *path == '\0';
}

enum route_result
router_match(const struct route *table, size_t n, const char *method,
    const char *path, struct route_match *m)
{
	char param[ROUTE_PARAM_MAX];
	size_t i, used = 0, mlen;
	int path_seen = 0;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		if (!pattern_match(table[i].pattern, path, param, sizeof(param)))
			continue;
		if (strcmp(table[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		     strcmp(table[i].method, "GET") == 0)) {
			m->route = &table[i];
			memcpy(m->param, param, sizeof(param));
			return ROUTE_FOUND;
		}
		path_seen = 1;
		mlen = strlen(table[i].method);
		if (used + mlen + 2 < sizeof(m->allow) &&
		    strstr(m->allow, table[i].method) == NULL) {
			if (used > 0) {
				memcpy(m->allow + used, ", ", 2);
				used += 2;
			}
			memcpy(m->allow + used, table[i].method, mlen + 1);
			used += mlen;
		}
	}
	return path_seen ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

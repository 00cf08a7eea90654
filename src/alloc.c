#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "alloc.h"

/* Appends v in decimal, at least width digits, and returns the new end. */
static char *
put_uint(char *p, unsigned long long v, int width)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < (int)sizeof(digits));
	while (n < width)
		digits[n++] = '0';
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

static char *
put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* The UTC civil date of a day count since 1970-01-01 (proleptic Gregorian),
 * computed here because gmtime_r is not promised to leave the heap alone. */
static void
civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	long long era, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	yoe = z - era * 146097;
	yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
	doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* The line has log.c's shape, built on the stack: no malloc, no stdio,
 * since the heap is what has failed. */
void
kr_oom(size_t size)
{
	char line[256], *p = line;
	struct timespec ts;
	long long y, days, secs;
	unsigned m, d;
	ssize_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	days = (long long)ts.tv_sec / 86400;
	secs = (long long)ts.tv_sec % 86400;
	civil_from_days(days, &y, &m, &d);
	p = put_str(p, "{\"time\":\"");
	p = put_uint(p, (unsigned long long)y, 4);
	*p++ = '-';
	p = put_uint(p, m, 2);
	*p++ = '-';
	p = put_uint(p, d, 2);
	*p++ = 'T';
	p = put_uint(p, (unsigned long long)(secs / 3600), 2);
	*p++ = ':';
	p = put_uint(p, (unsigned long long)(secs / 60 % 60), 2);
	*p++ = ':';
	p = put_uint(p, (unsigned long long)(secs % 60), 2);
	*p++ = '.';
	p = put_uint(p, (unsigned long long)(ts.tv_nsec / 1000000), 3);
	p = put_str(p, "Z\",\"level\":\"error\",\"pid\":");
	p = put_uint(p, (unsigned long long)getpid(), 1);
	p = put_str(p, ",\"msg\":\"out of memory");
	if (size > 0) {
		p = put_str(p, " allocating ");
		p = put_uint(p, (unsigned long long)size, 1);
		p = put_str(p, " bytes");
	}
	p = put_str(p, ": aborting\"}\n");
	n = write(STDERR_FILENO, line, (size_t)(p - line));
	(void)n;
	abort();
}

void *
kr_malloc(size_t size)
{
	void *p = malloc(size);

	if (p == NULL && size > 0)
		kr_oom(size);
	return p;
}

void *
kr_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL && n > 0 && size > 0)
		kr_oom(n > SIZE_MAX / size ? SIZE_MAX : n * size);
	return p;
}

void *
kr_realloc(void *p, size_t size)
{
	void *q = realloc(p, size);

	if (q == NULL && size > 0)
		kr_oom(size);
	return q;
}

void *
kr_reallocarray(void *p, size_t n, size_t size)
{
	if (size > 0 && n > SIZE_MAX / size)
		kr_oom(SIZE_MAX);
	return kr_realloc(p, n * size);
}

char *
kr_strdup(const char *s)
{
	return kr_strndup(s, strlen(s));
}

char *
kr_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = kr_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* json-c allocates inside its constructors; a NULL from any of them is OOM
 * (of a size json-c does not tell: 0). */
static struct json_object *
json_made(struct json_object *o)
{
	if (o == NULL)
		kr_oom(0);
	return o;
}

struct json_object *
kr_json_object(void)
{
	return json_made(json_object_new_object());
}

struct json_object *
kr_json_array(void)
{
	return json_made(json_object_new_array());
}

/* The scalar constructors: one line each, name, argument and json-c's. */
#define SCALAR(name, type, ctor) \
	struct json_object *name(type v) { return json_made(ctor(v)); }
SCALAR(kr_json_string, const char *, json_object_new_string)
SCALAR(kr_json_int, int32_t, json_object_new_int)
SCALAR(kr_json_int64, int64_t, json_object_new_int64)
SCALAR(kr_json_bool, int, json_object_new_boolean)
SCALAR(kr_json_double, double, json_object_new_double)
#undef SCALAR

void
kr_json_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (obj == NULL || val == NULL ||
	    json_object_object_add(obj, key, val) != 0)
		kr_oom(0);
}

void
kr_json_add_null(struct json_object *obj, const char *key)
{
	if (obj == NULL || json_object_object_add(obj, key, NULL) != 0)
		kr_oom(0);
}

void
kr_json_push(struct json_object *arr, struct json_object *val)
{
	if (arr == NULL || val == NULL || json_object_array_add(arr, val) != 0)
		kr_oom(0);
}

struct json_tokener *
kr_json_tokener(int depth)
{
	struct json_tokener *tok = json_tokener_new_ex(depth);

	if (tok == NULL)
		kr_oom(0);
	return tok;
}

const char *
kr_json_text(struct json_object *obj, int flags, size_t *len)
{
	const char *s;
	size_t n;

	if ((s = json_object_to_json_string_length(obj, flags, &n)) == NULL)
		kr_oom(0);
	if (len != NULL)
		*len = n;
	return s;
}

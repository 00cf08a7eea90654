/* alloc: allocation failure ends the process with one JSON line on stderr
 * and SIGABRT (docs/internals.md, "Memory"). Each failure runs in a forked
 * child, so the abort is observed from outside, as the supervisor sees it. */
#include "autoconfig.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "alloc.h"
#include "unit.h"

/* Under ASan an impossible malloc is a report and an exit of ASan's own;
 * this binary asks it to return NULL instead, as glibc does, so the
 * policy under test is keyrota's. Environment options still apply. The
 * warning ASan still prints goes to /dev/null in the child (a weak
 * symbol: absent without ASan). */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

enum oom_case {
	OOM_MALLOC, OOM_CALLOC, OOM_REALLOCARRAY, OOM_REALLOC,
	OOM_JSON_NULL_VALUE, OOM_JSON_PUSH_NULL
};

static void
provoke(enum oom_case c)
{
	struct json_object *o;
	void *p = NULL;

	switch (c) {
	case OOM_MALLOC:
		p = kr_malloc(SIZE_MAX / 2);
		break;
	case OOM_CALLOC:
		p = kr_calloc(SIZE_MAX / 2, 4);
		break;
	case OOM_REALLOCARRAY:
		p = kr_reallocarray(NULL, SIZE_MAX / 2, 4);
		break;
	case OOM_REALLOC:
		p = kr_realloc(NULL, SIZE_MAX - 64);
		break;
	case OOM_JSON_NULL_VALUE:
		o = kr_json_object();
		kr_json_add(o, "decision", NULL);
		break;
	case OOM_JSON_PUSH_NULL:
		o = kr_json_array();
		kr_json_push(o, NULL);
		break;
	}
	free(p);
}

/* Runs c in a child; returns its stderr (NUL-terminated in out) and its
 * wait status. */
static int
run_child(enum oom_case c, char *out, size_t outlen)
{
	int fds[2], status = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (__sanitizer_set_report_fd != NULL)
			__sanitizer_set_report_fd((void *)(intptr_t)open("/dev/null",
			    O_WRONLY));
		dup2(fds[1], STDERR_FILENO);
		provoke(c);
		_exit(0);
	}
	close(fds[1]);
	while (len + 1 < outlen &&
	    (n = read(fds[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	return status;
}

/* The child died of SIGABRT after writing exactly one log line of
 * log.c's shape that names the size (NULL: json-c's, not known). */
static void
expect_abort(enum oom_case c, const char *size)
{
	struct json_object *line, *v;
	char err[1024], msg[128];
	int status;

	status = run_child(c, err, sizeof(err));
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CU_ASSERT(strchr(err, '\n') == err + strlen(err) - 1);
	line = json_tokener_parse(err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT(json_object_object_get_ex(line, "level", &v) &&
	    strcmp(json_object_get_string(v), "error") == 0);
	CU_ASSERT(json_object_object_get_ex(line, "pid", &v) &&
	    json_object_get_int64(v) > 0);
	CU_ASSERT(json_object_object_get_ex(line, "time", &v) &&
	    json_object_get_string_len(v) == 24 &&
	    json_object_get_string(v)[10] == 'T' &&
	    json_object_get_string(v)[23] == 'Z');
	if (size != NULL)
		snprintf(msg, sizeof(msg), "out of memory allocating %s bytes: "
		    "aborting", size);
	else
		snprintf(msg, sizeof(msg), "out of memory: aborting");
	CU_ASSERT(json_object_object_get_ex(line, "msg", &v) &&
	    strcmp(json_object_get_string(v), msg) == 0);
	json_object_put(line);
}

static void
test_alloc_failure_aborts_with_one_line(void)
{
	char size[32];

	snprintf(size, sizeof(size), "%zu", SIZE_MAX / 2);
	expect_abort(OOM_MALLOC, size);
	snprintf(size, sizeof(size), "%zu", SIZE_MAX - 64);
	expect_abort(OOM_REALLOC, size);
}

static void
test_alloc_overflowing_count_is_oom(void)
{
	char size[32];

	snprintf(size, sizeof(size), "%zu", SIZE_MAX);
	expect_abort(OOM_CALLOC, size);
	expect_abort(OOM_REALLOCARRAY, size);
}

/* A NULL value at an add or push can only be a json-c constructor that ran
 * out of memory: it aborts instead of slipping into a document as null. */
static void
test_alloc_json_null_value_is_oom(void)
{
	expect_abort(OOM_JSON_NULL_VALUE, NULL);
	expect_abort(OOM_JSON_PUSH_NULL, NULL);
}

static void
test_alloc_ordinary_use(void)
{
	struct json_object *o, *a, *v;
	char *s, *buf;
	size_t len;

	s = kr_strndup("credential", 4);
	CU_ASSERT_STRING_EQUAL(s, "cred");
	free(s);
	s = kr_strdup("");
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	buf = kr_reallocarray(NULL, 4, 8);
	memset(buf, 'x', 32);
	buf = kr_reallocarray(buf, 8, 8);
	CU_ASSERT(buf[31] == 'x');
	free(buf);
	o = kr_json_object();
	a = kr_json_array();
	kr_json_push(a, kr_json_string("P-7"));
	kr_json_add(o, "source_line_ids", a);
	kr_json_add_null(o, "decision");
	kr_json_add(o, "eval", kr_json_bool(0));
	kr_json_add(o, "n", kr_json_int64(30));
	CU_ASSERT(json_object_object_get_ex(o, "decision", &v) && v == NULL);
	CU_ASSERT_STRING_EQUAL(kr_json_text(o, JSON_C_TO_STRING_PLAIN, &len),
	    "{\"source_line_ids\":[\"P-7\"],\"decision\":null,\"eval\":false,"
	    "\"n\":30}");
	CU_ASSERT_EQUAL(len, strlen(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN)));
	json_object_put(o);
}

void
suite_alloc(void)
{
	CU_pSuite s = CU_add_suite("alloc", NULL, NULL);

	ADD_TEST(s, test_alloc_failure_aborts_with_one_line);
	ADD_TEST(s, test_alloc_overflowing_count_is_oom);
	ADD_TEST(s, test_alloc_json_null_value_is_oom);
	ADD_TEST(s, test_alloc_ordinary_use);
}

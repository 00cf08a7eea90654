/* alloc: memory; allocation failure ends the process.
 *
 * Every allocation in keyrota, its own and json-c's builders, goes through
 * these functions, and none of them returns NULL: when memory runs out the
 * process writes one fixed line to stderr and aborts. The supervisor then
 * replaces the worker and the reaper ends its traces in flight. The policy
 * and its reasons are in docs/internals.md ("Memory").
 *
 * Parsing (json_tokener_*) returning NULL is bad input, not memory, and is
 * handled where it happens. */
#ifndef KEYROTA_ALLOC_H
#define KEYROTA_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct json_tokener;

/* Writes {"time":...,"level":"error","pid":...,"msg":"out of memory
 * allocating SIZE bytes: aborting"} (SIZE 0: not known, left out) to stderr
 * with one write(2), allocating nothing, and aborts. */
void  kr_oom(size_t size) __attribute__((noreturn));

void *kr_malloc(size_t size);
void *kr_calloc(size_t n, size_t size);
void *kr_realloc(void *p, size_t size);
/* realloc of n elements of size bytes; n * size overflowing is OOM too. */
void *kr_reallocarray(void *p, size_t n, size_t size);
char *kr_strdup(const char *s);
char *kr_strndup(const char *s, size_t n);

/* json-c builders. The constructors never return NULL; kr_json_add and
 * kr_json_push take ownership of val and abort when obj or val is NULL or
 * json-c cannot insert it. A JSON null is written only on purpose, with
 * kr_json_add_null. */
struct json_object *kr_json_object(void);
struct json_object *kr_json_array(void);
struct json_object *kr_json_string(const char *s);
struct json_object *kr_json_int(int32_t i);
struct json_object *kr_json_int64(int64_t i);
struct json_object *kr_json_bool(int b);
struct json_object *kr_json_double(double d);
void kr_json_add(struct json_object *obj, const char *key,
    struct json_object *val);
void kr_json_add_null(struct json_object *obj, const char *key);
void kr_json_push(struct json_object *arr, struct json_object *val);
/* The text of obj as json_object_to_json_string_length writes it (owned by
 * obj); len may be NULL. */
const char *kr_json_text(struct json_object *obj, int flags, size_t *len);
/* A tokener nesting at most depth levels; its parse failures are bad
 * input, handled by the caller. */
struct json_tokener *kr_json_tokener(int depth);

#endif

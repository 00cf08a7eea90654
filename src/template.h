/* template: a small logic-less HTML template language, compiled once.
 *
 *   {{name}}            the value, HTML-escaped (safe in text and in quoted
 *                       attribute values); a missing name is an error
 *   {{#name}}…{{/name}} the block once for true, a non-empty string or
 *                       object, once per item of a list (the item's names
 *                       shadow the outer ones); never for false/""/[]
 *   {{^name}}…{{/name}} the block when name is false, "", [] or missing
 *   {{@content}}        only in a layout: the page rendered into it
 *   {{! comment }}
 *
 * There is no way to insert unescaped text. Malformed templates fail at
 * load with file and line; rendering fails (never outputs half-silently)
 * on a missing name. */
#ifndef KEYROTA_TEMPLATE_H
#define KEYROTA_TEMPLATE_H

#include <stddef.h>

#include "buf.h"

struct template;
struct template_ctx;

/* Compiles text (name is used in messages). NULL with err set on error. */
struct template *template_compile(const char *name, const char *text,
                     char *err, size_t errlen);
/* Reads and compiles a file. */
struct template *template_load(const char *path, char *err, size_t errlen);
void             template_free(struct template *t);

/* Renders t with ctx into out; with a layout, renders t first and then the
 * layout around it at {{@content}}. Returns 0, or -1 with err set. */
int              template_render(const struct template *t,
                     const struct template *layout,
                     const struct template_ctx *ctx,
                     struct buf *out, char *err, size_t errlen);

/* Contexts: a tree of named values, built per render and freed whole. */
struct template_ctx *template_ctx_new(void);
void             template_ctx_free(struct template_ctx *c);
void             template_set(struct template_ctx *c, const char *name,
                     const char *value);
void             template_setf(struct template_ctx *c, const char *name,
                     const char *fmt, ...)
                     __attribute__((format(printf, 3, 4)));
void             template_set_bool(struct template_ctx *c, const char *name,
                     int value);
/* An object value (for {{#name}} with nested names). */
struct template_ctx *template_object(struct template_ctx *c, const char *name);
/* Appends an item to the list called name (creating it); returns the
 * item's context. An empty list is made by template_list(c, name). */
struct template_ctx *template_list_add(struct template_ctx *c,
                     const char *name);
void             template_list(struct template_ctx *c, const char *name);

#endif

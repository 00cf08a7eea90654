#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "html.h"
#include "template.h"

#define TEMPLATE_MAX_BYTES (256 * 1024)
#define TEMPLATE_MAX_DEPTH 16
#define NAME_MAX_LEN 64

enum node_kind { N_TEXT, N_VAR, N_SECTION, N_INVERTED, N_CONTENT };

struct node {
	enum node_kind kind;
	char          *text;          /* N_TEXT: the text; else the name */
	size_t         len;
	int            line;
	struct node   *children;      /* sections */
	size_t         nchildren;
};

struct template {
	char        *name;
	struct node  root;
};

/* ---- contexts ---------------------------------------------------------- */

enum tv_kind { TV_STRING, TV_BOOL, TV_OBJECT, TV_LIST };

struct tvalue {
	char          *name;
	enum tv_kind   kind;
	char          *str;
	int            b;
	struct template_ctx   *obj;           /* TV_OBJECT */
	struct template_ctx  **items;         /* TV_LIST */
	size_t         nitems;
	struct tvalue *next;
};

struct template_ctx {
	struct tvalue *values;
};

struct template_ctx *
template_ctx_new(void)
{
	return kr_calloc(1, sizeof(struct template_ctx));
}

static void
tvalue_free(struct tvalue *v)
{
	size_t i;

	free(v->name);
	free(v->str);
	template_ctx_free(v->obj);
	for (i = 0; i < v->nitems; i++)
		template_ctx_free(v->items[i]);
	free(v->items);
	free(v);
}

void
template_ctx_free(struct template_ctx *c)
{
	struct tvalue *v, *next;

	if (c == NULL)
		return;
	for (v = c->values; v != NULL; v = next) {
		next = v->next;
		tvalue_free(v);
	}
	free(c);
}

static struct tvalue *
find(const struct template_ctx *c, const char *name)
{
	struct tvalue *v;

	for (v = c != NULL ? c->values : NULL; v != NULL; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

/* Returns the value called name, replacing an earlier one of that name. */
static struct tvalue *
put(struct template_ctx *c, const char *name, enum tv_kind kind)
{
	struct tvalue *v, **pp;

	for (pp = &c->values; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->name, name) == 0) {
			v = *pp;
			*pp = v->next;
			tvalue_free(v);
			break;
		}
	v = kr_calloc(1, sizeof(*v));
	v->name = kr_strdup(name);
	v->kind = kind;
	v->next = c->values;
	c->values = v;
	return v;
}

void
template_set(struct template_ctx *c, const char *name, const char *value)
{
	put(c, name, TV_STRING)->str = kr_strdup(value != NULL ? value : "");
}

void
template_setf(struct template_ctx *c, const char *name, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 8192);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	template_set(c, name, buf_str(&b));
	buf_free(&b);
}

void
template_set_bool(struct template_ctx *c, const char *name, int value)
{
	put(c, name, TV_BOOL)->b = value != 0;
}

struct template_ctx *
template_object(struct template_ctx *c, const char *name)
{
	struct tvalue *v = put(c, name, TV_OBJECT);

	v->obj = template_ctx_new();
	return v->obj;
}

void
template_list(struct template_ctx *c, const char *name)
{
	struct tvalue *v = find(c, name);

	if (v == NULL || v->kind != TV_LIST)
		put(c, name, TV_LIST);
}

struct template_ctx *
template_list_add(struct template_ctx *c, const char *name)
{
	struct tvalue *v;
	struct template_ctx *item;

	template_list(c, name);
	v = find(c, name);
	v->items = kr_reallocarray(v->items, v->nitems + 1, sizeof(*v->items));
	item = template_ctx_new();
	v->items[v->nitems++] = item;
	return item;
}

/* ---- compiling --------------------------------------------------------- */

static void
node_free(struct node *n)
{
	size_t i;

	for (i = 0; i < n->nchildren; i++)
		node_free(&n->children[i]);
	free(n->children);
	free(n->text);
}

static struct node *
add_child(struct node *parent)
{
	struct node *c;

	c = kr_reallocarray(parent->children, parent->nchildren + 1,
	    sizeof(*c));
	parent->children = c;
	c = &parent->children[parent->nchildren++];
	memset(c, 0, sizeof(*c));
	return c;
}

static int
valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return 1;
}

static int
line_at(const char *start, const char *p)
{
	int line = 1;

	for (; start < p; start++)
		line += *start == '\n';
	return line;
}

struct template *
template_compile(const char *name, const char *text, char *err,
    size_t errlen)
{
	struct template *t;
	struct node *stack[TEMPLATE_MAX_DEPTH + 1], *n;
	const char *p = text, *open, *close, *tag;
	size_t depth = 0, taglen;
	int line;

	t = kr_calloc(1, sizeof(*t));
	t->name = kr_strdup(name);
	stack[0] = &t->root;
	while (*p != '\0') {
		open = strstr(p, "{{");
		if (open == NULL)
			open = p + strlen(p);
		if (open > p) {
			n = add_child(stack[depth]);
			n->kind = N_TEXT;
			n->len = (size_t)(open - p);
			n->text = kr_strndup(p, n->len);
		}
		if (*open == '\0')
			break;
		line = line_at(text, open);
		if ((close = strstr(open + 2, "}}")) == NULL) {
			snprintf(err, errlen, "%s:%d: unterminated {{", name, line);
			goto fail;
		}
		tag = open + 2;
		taglen = (size_t)(close - tag);
		p = close + 2;
		if (taglen > 0 && *tag == '!')
			continue;
		if (taglen > 0 && (*tag == '{' || *tag == '&')) {
			snprintf(err, errlen, "%s:%d: unescaped insertion is not "
			    "supported", name, line);
			goto fail;
		}
		if (taglen > 0 && (*tag == '#' || *tag == '^' || *tag == '/' ||
		    *tag == '@')) {
			char kind = *tag;

			tag++;
			taglen--;
			if (!valid_name(tag, taglen))
				goto badname;
			if (kind == '/') {
				if (depth == 0 || strlen(stack[depth]->text) !=
				    taglen || strncmp(stack[depth]->text, tag,
				    taglen) != 0) {
					snprintf(err, errlen, "%s:%d: {{/%.*s}} "
					    "closes nothing open", name, line,
					    (int)taglen, tag);
					goto fail;
				}
				depth--;
				continue;
			}
			n = add_child(stack[depth]);
			n->line = line;
			n->text = kr_strndup(tag, taglen);
			if (kind == '@') {
				if (strcmp(n->text, "content") != 0)
					goto badname;
				n->kind = N_CONTENT;
				continue;
			}
			n->kind = kind == '#' ? N_SECTION : N_INVERTED;
			if (depth == TEMPLATE_MAX_DEPTH) {
				snprintf(err, errlen, "%s:%d: sections nested too "
				    "deeply", name, line);
				goto fail;
			}
			stack[++depth] = n;
			continue;
		}
		if (!valid_name(tag, taglen))
			goto badname;
		n = add_child(stack[depth]);
		n->kind = N_VAR;
		n->line = line;
		n->text = kr_strndup(tag, taglen);
		continue;
badname:
		snprintf(err, errlen, "%s:%d: bad tag {{%.*s}}", name, line,
		    (int)(taglen > 40 ? 40 : taglen), open + 2);
		goto fail;
	}
	if (depth > 0) {
		snprintf(err, errlen, "%s:%d: {{#%s}} is never closed", name,
		    stack[depth]->line, stack[depth]->text);
		goto fail;
	}
	return t;
fail:
	template_free(t);
	return NULL;
}

struct template *
template_load(const char *path, char *err, size_t errlen)
{
	struct template *t;
	struct buf text;
	const char *base = strrchr(path, '/');

	buf_init(&text, TEMPLATE_MAX_BYTES);
	if (buf_read_file(&text, path) != BUF_OK) {
		buf_free(&text);
		snprintf(err, errlen, "%s: cannot read (or larger than %d KiB)",
		    path, TEMPLATE_MAX_BYTES / 1024);
		return NULL;
	}
	t = template_compile(base != NULL ? base + 1 : path, buf_str(&text),
	    err, errlen);
	buf_free(&text);
	return t;
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	node_free(&t->root);
	free(t->name);
	free(t);
}

/* ---- rendering --------------------------------------------------------- */

struct scope {
	const struct template_ctx  *ctx;
	const struct scope *up;
};

struct render {
	const struct template *t;
	const char            *content;   /* for {{@content}} */
	struct buf            *out;
	char                  *err;
	size_t                 errlen;
};

static const struct tvalue *
lookup(const struct scope *s, const char *name)
{
	const struct tvalue *v;

	for (; s != NULL; s = s->up)
		if ((v = find(s->ctx, name)) != NULL)
			return v;
	return NULL;
}

static int
truthy(const struct tvalue *v)
{
	if (v == NULL)
		return 0;
	switch (v->kind) {
	case TV_STRING: return v->str != NULL && v->str[0] != '\0';
	case TV_BOOL:   return v->b;
	case TV_OBJECT: return 1;
	case TV_LIST:   return v->nitems > 0;
	}
	return 0;
}

static int render_nodes(struct render *r, const struct node *nodes, size_t n,
    const struct scope *s);

static int
fail_at(struct render *r, const struct node *n, const char *what)
{
	snprintf(r->err, r->errlen, "%s:%d: %s {{%s}}", r->t->name, n->line,
	    what, n->text);
	return -1;
}

static int
render_nodes(struct render *r, const struct node *nodes, size_t count,
    const struct scope *s)
{
	const struct tvalue *v;
	struct scope inner;
	size_t i, k;

	for (i = 0; i < count; i++) {
		const struct node *n = &nodes[i];
		enum buf_status st = BUF_OK;

		switch (n->kind) {
		case N_TEXT:
			st = buf_append(r->out, n->text, n->len);
			break;
		case N_CONTENT:
			if (r->content == NULL)
				return fail_at(r, n, "no page to place at");
			st = buf_puts(r->out, r->content);
			break;
		case N_VAR:
			v = lookup(s, n->text);
			if (v == NULL)
				return fail_at(r, n, "missing value for");
			if (v->kind != TV_STRING)
				return fail_at(r, n, "not text:");
			st = html_escape(r->out, v->str);
			break;
		case N_INVERTED:
			v = lookup(s, n->text);
			if (!truthy(v) && render_nodes(r, n->children,
			    n->nchildren, s) != 0)
				return -1;
			break;
		case N_SECTION:
			v = lookup(s, n->text);
			if (!truthy(v))
				break;
			inner.up = s;
			if (v->kind == TV_LIST) {
				for (k = 0; k < v->nitems; k++) {
					inner.ctx = v->items[k];
					if (render_nodes(r, n->children,
					    n->nchildren, &inner) != 0)
						return -1;
				}
				break;
			}
			inner.ctx = v->kind == TV_OBJECT ? v->obj : NULL;
			if (render_nodes(r, n->children, n->nchildren,
			    v->kind == TV_OBJECT ? &inner : s) != 0)
				return -1;
			break;
		}
		if (st != BUF_OK) {
			snprintf(r->err, r->errlen, "%s: output too large",
			    r->t->name);
			return -1;
		}
	}
	return 0;
}

int
template_render(const struct template *t, const struct template *layout,
    const struct template_ctx *ctx, struct buf *out, char *err, size_t errlen)
{
	struct scope s = { ctx, NULL };
	struct render r = { t, NULL, out, err, errlen };
	struct buf page;
	int rc;

	if (layout == NULL)
		return render_nodes(&r, t->root.children, t->root.nchildren, &s);
	buf_init(&page, out->max);
	r.out = &page;
	rc = render_nodes(&r, t->root.children, t->root.nchildren, &s);
	if (rc == 0) {
		r.t = layout;
		r.out = out;
		r.content = buf_str(&page);
		rc = render_nodes(&r, layout->root.children,
		    layout->root.nchildren, &s);
	}
	buf_free(&page);
	return rc;
}

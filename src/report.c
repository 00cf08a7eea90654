#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "form.h"
#include "report.h"
#include "utf8.h"

enum field_kind { FIELD_ACCOUNT_ID, FIELD_TEXT };

/* The report's fields, declared once; JSON and form input share them. */
static const struct field_rule {
	const char      *name;
	int              required;
	enum field_kind  kind;
	size_t           min, max;    /* code points, for FIELD_TEXT */
} rules[] = {
	{ "account_id",        1, FIELD_ACCOUNT_ID, 0, 0 },
	{ "credential_report", 1, FIELD_TEXT, 10, 500 },
	{ "item",              0, FIELD_TEXT, 3, 80 },
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

int
report_account_id_valid(const char *s)
{
	int i;

	if (strncmp(s, "acct_", 5) != 0)
		return 0;
	for (i = 5; i < 10; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[10] == '\0';
}

/* The invisible format and bidi controls a report may not carry: they
 * hide or reorder text in whatever shows it later. */
static int
is_invisible(unsigned long cp)
{
	return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff;
}

static int
is_space(unsigned long cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == 0xa0 ||
	    cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

const char *
report_check_text(const char *s, size_t len, size_t min, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, count = 0;
	unsigned long cp;
	int blank = 1;

	while (i < len) {
		if ((n = utf8_next(p + i, len - i, &cp)) == 0)
			return "must be valid UTF-8 text";
		if ((cp < 0x20 && cp != '\n' && cp != '\t') ||
		    (cp >= 0x7f && cp <= 0x9f))
			return "must not contain control characters "
			    "(newlines and tabs are fine)";
		if (is_invisible(cp))
			return "must not contain invisible formatting or "
			    "direction characters (U+200B-U+200F, U+202A-U+202E, "
			    "U+2060-U+2064, U+2066-U+2069, U+FEFF)";
		if (!is_space(cp))
			blank = 0;
		i += n;
		count++;
	}
	if (count > 0 && blank)
		return "must not be only whitespace";
	if (count < min || count > max) {
		if (min == 10)
			return "must be 10 to 500 characters long";
		if (min == 3)
			return "must be 3 to 80 characters long";
		return "has the wrong length";
	}
	return NULL;
}


/* Copies a field name for echoing: valid UTF-8 only, cut at a character
 * boundary, with control, invisible and undecodable bytes shown as '?'.
 * Names come from the client (unknown keys), so nothing else is safe to
 * put back into a JSON answer or a page. */
static void
safe_name(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t i = 0, o = 0, n;
	unsigned long cp;

	while (i < srclen) {
		n = utf8_next(p + i, srclen - i, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    is_invisible(cp)) {
			n = n == 0 ? 1 : n;
			if (o + 1 >= dstlen)
				break;
			dst[o++] = '?';
		} else {
			if (o + n >= dstlen)
				break;
			memcpy(dst + o, p + i, n);
			o += n;
		}
		i += n;
	}
	dst[o] = '\0';
}

static void
add_error_n(struct report_errors *errs, const char *field, size_t len,
    const char *message)
{
	char name[sizeof(errs->e[0].field)];
	size_t i;

	safe_name(name, sizeof(name), field, len);
	for (i = 0; i < errs->n; i++)          /* one message per field */
		if (strcmp(errs->e[i].field, name) == 0)
			return;
	if (errs->n == REPORT_MAX_ERRORS)
		return;
	memcpy(errs->e[errs->n].field, name, sizeof(name));
	errs->e[errs->n].message = message;
	errs->n++;
}

static void
add_error(struct report_errors *errs, const char *field, const char *message)
{
	add_error_n(errs, field, strlen(field), message);
}

static const struct field_rule *
rule_for(const char *name)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (strcmp(rules[i].name, name) == 0)
			return &rules[i];
	return NULL;
}

/* Checks one present value; on success stores it in r. */
static void
take_value(const struct field_rule *rule, const char *v, size_t len,
    struct report *r, struct report_errors *errs)
{
	const char *msg;
	char *copy;

	if (rule->kind == FIELD_ACCOUNT_ID) {
		if (len != strlen(v) || !report_account_id_valid(v))
			add_error(errs, rule->name,
			    "must look like acct_12345 (acct_ and five digits)");
		else
			memcpy(r->account_id, v, len + 1);
		return;
	}
	if ((msg = report_check_text(v, len, rule->min, rule->max)) != NULL) {
		add_error(errs, rule->name, msg);
		return;
	}
	copy = kr_malloc(len + 1);
	memcpy(copy, v, len);
	copy[len] = '\0';
	if (strcmp(rule->name, "credential_report") == 0)
		r->credential_report = copy;
	else
		r->item = copy;
}

static void
check_required(const int *seen, struct report_errors *errs)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (rules[i].required && !seen[i])
			add_error(errs, rules[i].name, "is required");
}

static int
finish(struct report *r, struct report_errors *errs)
{
	if (errs->n == 0)
		return 0;
	report_free(r);
	return -1;
}

/* Skips one JSON string starting at s[i] == '"'; returns the index after
 * its closing quote. The body was already validated by json-c. */
static size_t
skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i + 1;
}

static int
hex4(const char *s, size_t len, size_t i)
{
	int v = 0, k, d;

	if (len - i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		d = s[i + k];
		if (d >= '0' && d <= '9')
			d -= '0';
		else if (d >= 'a' && d <= 'f')
			d -= 'a' - 10;
		else if (d >= 'A' && d <= 'F')
			d -= 'A' - 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

enum raw_flags { RAW_NUL = 1, RAW_LONE_SURROGATE = 2 };

/* What json-c hides about the string s[start..end) (quotes included):
 * an escaped NUL, and any \ud800-\udfff escape that is not a high
 * surrogate followed at once by an escaped low one (json-c turns those
 * into U+FFFD). */
static int
raw_string_flags(const char *s, size_t start, size_t end)
{
	size_t i;
	int flags = 0, u, lo;

	for (i = start + 1; i + 1 < end; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] != 'u') {
			i++;
			continue;
		}
		u = hex4(s, end, i + 2);
		if (u == 0)
			flags |= RAW_NUL;
		if (u >= 0xd800 && u <= 0xdbff) {
			lo = i + 12 <= end && s[i + 6] == '\\' && s[i + 7] == 'u' ?
			    hex4(s, end, i + 8) : -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				flags |= RAW_LONE_SURROGATE;
			else
				i += 6;
		} else if (u >= 0xdc00 && u <= 0xdfff)
			flags |= RAW_LONE_SURROGATE;
		i += 5;
	}
	return flags;
}

#define MSG_SURROGATE "must not contain an unpaired surrogate escape " \
	"(\\ud800-\\udfff)"

/* Checks the raw text of a body json-c accepted for what its parse hides:
 * repeated top-level keys (json-c keeps the last), escaped NULs in keys
 * (json-c ends the key there) and unpaired surrogate escapes anywhere.
 * Each finding is an error on the top-level key it belongs to. */
static void
scan_raw(const char *s, size_t len, struct report_errors *errs)
{
	struct json_object *seen = kr_json_object(), *key;
	char owner[sizeof(errs->e[0].field)];
	size_t i = 0, start, j;
	int depth = 0, flags;
	char *raw;

	owner[0] = '\0';
	while (i < len && seen != NULL) {
		char c = s[i];

		if (c != '"') {
			if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']')
				depth--;
			i++;
			continue;
		}
		start = i;
		i = skip_string(s, len, i);
		flags = raw_string_flags(s, start, i);
		/* A string at depth 1 followed by ':' is a key. */
		for (j = i; j < len && (s[j] == ' ' || s[j] == '\t' ||
		    s[j] == '\n' || s[j] == '\r'); j++)
			;
		if (depth != 1 || j >= len || s[j] != ':') {
			if (flags & RAW_LONE_SURROGATE)
				add_error(errs, owner[0] ? owner : "body",
				    MSG_SURROGATE);
			continue;
		}
		raw = kr_strndup(s + start, i - start);
		key = json_tokener_parse(raw);
		free(raw);
		if (key == NULL)
			continue;
		safe_name(owner, sizeof(owner), json_object_get_string(key),
		    (size_t)json_object_get_string_len(key));
		if (flags & RAW_NUL)
			add_error(errs, owner, "is not a known field (a field "
			    "name must not contain \\u0000)");
		if (flags & RAW_LONE_SURROGATE)
			add_error(errs, owner, MSG_SURROGATE);
		if (json_object_object_get_ex(seen,
		    json_object_get_string(key), NULL))
			add_error(errs, owner, "appears more than once");
		else
			kr_json_add_null(seen,
			    json_object_get_string(key));
		json_object_put(key);
	}
	json_object_put(seen);
}

int
report_from_json(const char *body, size_t len, struct report *r,
    struct report_errors *errs)
{
	struct json_tokener *tok;
	struct json_object *root = NULL;
	const struct field_rule *rule;
	int seen[NRULES] = { 0 };

	memset(r, 0, sizeof(*r));
	errs->n = 0;
	tok = kr_json_tokener(8);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != len) {
		add_error(errs, "body", "must be one valid JSON object");
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		add_error(errs, "body", "must be a JSON object");
		goto out;
	}
	scan_raw(body, len, errs);

	json_object_object_foreach(root, name, val) {
		if ((rule = rule_for(name)) == NULL) {
			add_error(errs, name, "is not a known field");
			continue;
		}
		seen[rule - rules] = 1;
		if (!json_object_is_type(val, json_type_string)) {
			add_error(errs, name, "must be a string");
			continue;
		}
		take_value(rule, json_object_get_string(val),
		    (size_t)json_object_get_string_len(val), r, errs);
	}
	check_required(seen, errs);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return finish(r, errs);
}

int
report_from_form(const struct form *f, const char *const *extra,
    struct report *r, struct report_errors *errs)
{
	const struct field_rule *rule;
	int seen[NRULES] = { 0 };
	const char *const *x;
	size_t i;

	memset(r, 0, sizeof(*r));
	errs->n = 0;
	for (i = 0; i < f->n; i++) {
		const char *name = f->fields[i].name;

		for (x = extra; x != NULL && *x != NULL; x++)
			if (strcmp(*x, name) == 0)
				break;
		if (x != NULL && *x != NULL)
			continue;
		if ((rule = rule_for(name)) == NULL) {
			add_error(errs, name, "is not a known field");
			continue;
		}
		if (form_count(f, name) > 1) {
			add_error(errs, name, "appears more than once");
			continue;
		}
		/* An empty optional field in a form means "not given". */
		if (!rule->required && f->fields[i].value_len == 0)
			continue;
		seen[rule - rules] = f->fields[i].value_len > 0;
		if (f->fields[i].value_len > 0)
			take_value(rule, f->fields[i].value,
			    f->fields[i].value_len, r, errs);
	}
	check_required(seen, errs);
	return finish(r, errs);
}

void
report_free(struct report *r)
{
	free(r->credential_report);
	free(r->item);
	memset(r, 0, sizeof(*r));
}

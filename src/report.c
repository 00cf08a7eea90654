#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "report.h"

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

static void
add_error(struct report_errors *errs, const char *field, const char *message)
{
	size_t i, n;

	for (i = 0; i < errs->n; i++)          /* one message per field */
		if (strcmp(errs->e[i].field, field) == 0)
			return;
	if (errs->n == REPORT_MAX_ERRORS)
		return;
	n = strlen(field);
	if (n >= sizeof(errs->e[0].field))
		n = sizeof(errs->e[0].field) - 1;
	memcpy(errs->e[errs->n].field, field, n);
	errs->e[errs->n].field[n] = '\0';
	errs->e[errs->n].message = message;
	errs->n++;
}

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

/* Decodes one UTF-8 sequence strictly (no overlongs, surrogates or values
 * past U+10FFFF). Returns its length, or 0 when invalid. */
static size_t
utf8_next(const unsigned char *s, size_t len, unsigned long *cp)
{
	size_t n, i;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return n;
}

const char *
report_check_text(const char *s, size_t len, size_t min, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, count = 0;
	unsigned long cp;

	while (i < len) {
		if ((n = utf8_next(p + i, len - i, &cp)) == 0)
			return "must be valid UTF-8 text";
		if ((cp < 0x20 && cp != '\n' && cp != '\t') ||
		    (cp >= 0x7f && cp <= 0x9f))
			return "must not contain control characters "
			    "(newlines and tabs are fine)";
		i += n;
		count++;
	}
	if (count < min || count > max) {
		if (min == 10)
			return "must be 10 to 500 characters long";
		if (min == 3)
			return "must be 3 to 80 characters long";
		return "has the wrong length";
	}
	return NULL;
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
	if ((copy = malloc(len + 1)) == NULL) {
		add_error(errs, rule->name, "could not be stored");
		return;
	}
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

/* json-c keeps the last of repeated keys, so repeats are found by walking
 * the top-level keys of the raw text. Returns the first repeated key's
 * decoded name into dup (or "" when there is none). */
static void
find_repeated_key(const char *s, size_t len, char *dup, size_t duplen)
{
	struct json_object *seen = json_object_new_object(), *key;
	size_t i = 0, start;
	int depth = 0;
	char *raw;

	dup[0] = '\0';
	while (i < len && seen != NULL) {
		char c = s[i];

		if (c == '"') {
			start = i;
			i = skip_string(s, len, i);
			if (depth != 1)
				continue;
			/* A string at depth 1 followed by ':' is a key. */
			size_t j = i;
			while (j < len && (s[j] == ' ' || s[j] == '\t' ||
			    s[j] == '\n' || s[j] == '\r'))
				j++;
			if (j >= len || s[j] != ':')
				continue;
			if ((raw = strndup(s + start, i - start)) == NULL)
				break;
			key = json_tokener_parse(raw);
			free(raw);
			if (key == NULL)
				continue;
			if (json_object_object_get_ex(seen,
			    json_object_get_string(key), NULL)) {
				snprintf(dup, duplen, "%s",
				    json_object_get_string(key));
				json_object_put(key);
				break;
			}
			json_object_object_add(seen,
			    json_object_get_string(key), NULL);
			json_object_put(key);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		i++;
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
	char dup[48];

	memset(r, 0, sizeof(*r));
	errs->n = 0;
	if ((tok = json_tokener_new_ex(8)) == NULL) {
		add_error(errs, "body", "could not be read");
		return -1;
	}
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
	find_repeated_key(body, len, dup, sizeof(dup));
	if (dup[0] != '\0')
		add_error(errs, dup, "appears more than once");

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

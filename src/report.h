/* report: validation of a person's report (README, "A sample request") by a
 * declared table of field rules. Every bad field gets its own message, so a
 * 422 lists them all; a report that fails validation is never stored or sent
 * anywhere. */
#ifndef KEYROTA_REPORT_H
#define KEYROTA_REPORT_H

#include <stddef.h>

#define REPORT_MAX_ERRORS 16

struct report {
	char  account_id[16];
	char *credential_report;   /* owned; valid UTF-8, checked */
	char *item;                /* owned; NULL when not given */
};

struct report_errors {
	size_t n;
	struct {
		char        field[48];
		const char *message;   /* static text */
	} e[REPORT_MAX_ERRORS];
};

/* Validates a JSON object body. Returns 0 and fills r, or -1 with errs
 * filled (r is then empty). Unknown and repeated fields are errors. */
int  report_from_json(const char *body, size_t len, struct report *r,
         struct report_errors *errs);

/* Validates named values from a form. extra lists other field names the
 * caller handles itself (NULL-terminated); any other name is an error. */
struct form;
int  report_from_form(const struct form *f, const char *const *extra,
         struct report *r, struct report_errors *errs);

void report_free(struct report *r);

/* The text rule of the README's "A sample request": valid UTF-8, min..max
 * code points, no control characters but newline and tab. NULL when s
 * passes, else the message. */
const char *report_check_text(const char *s, size_t len, size_t min,
                size_t max);
/* ^acct_[0-9]{5}$ */
int  report_account_id_valid(const char *s);

#endif

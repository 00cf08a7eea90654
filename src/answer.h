/* answer: parsing the model's structured answer and verifying it against
 * policy and trusted records (README, "Architecture"). The model is
 * untrusted: only the enum, the integer and the line ids parsed here travel
 * any further. */
#ifndef KEYROTA_ANSWER_H
#define KEYROTA_ANSWER_H

#include <stddef.h>

#include "errors.h"

/* The policy line every answer must cite (README, "What it decides"). */
#define POLICY_LINE          "P-7"
#define DECISION_MAX_SOURCES 8      /* source_line_ids in one answer */
#define WINDOW_MAX_DAYS      90     /* rotation_window_days, 0..this */
#define POLICY_ID_MAX        16
#define POLICY_SUMMARY_MAX   512
/* How many policy lines keyrota loads (the first, by id) and shows. */
#define POLICY_MAX_LINES     16
#define ANSWER_MAX_BYTES     4096   /* a valid answer is far smaller */

enum decision {
	DECISION_ELIGIBLE,
	DECISION_NOT_ELIGIBLE,
	DECISION_NEEDS_REVIEW,
	DECISION__MAX
};

struct model_answer {
	enum decision decision;
	int           rotation_window_days;
	size_t        nsources;
	char          sources[DECISION_MAX_SOURCES][POLICY_ID_MAX];
};

struct policy_line {
	char line_id[POLICY_ID_MAX];
	char summary[POLICY_SUMMARY_MAX];
	int  rotation_window_days;
};

/* What keyrota knows from PostgreSQL, never from the request. */
struct trusted_context {
	int                       key_age_days;
	const struct policy_line *lines;
	size_t                    nlines;
};

/* The JSON schema of the answer sent to the model, from the same tables
 * and bounds answer_parse enforces: one source for every provider.
 * ANSWER_SCHEMA_UNBOUNDED leaves out the numeric and array bounds, which
 * Anthropic's structured output does not accept; answer_parse enforces
 * them either way. The caller owns the object. */
enum answer_schema_kind {
	ANSWER_SCHEMA_BOUNDED,
	ANSWER_SCHEMA_UNBOUNDED,
};
struct json_object;
struct json_object *answer_schema(enum answer_schema_kind kind);

const char *answer_decision_name(enum decision d);          /* "eligible", ... */
int         answer_decision_from_name(const char *s, enum decision *out);

/* Parses the answer text: exactly the three fields with their types and
 * ranges. Returns KR_OK or KR_INVALID_DECISION. */
enum kr_error answer_parse(const char *text, size_t len,
                  struct model_answer *out);

/* Verifies a parsed answer: every source is a known policy line, P-7 is
 * among them and its window is P-7's (else KR_INVALID_DECISION); eligible
 * with a key older than the window is KR_POLICY_CONFLICT. */
enum kr_error answer_verify(const struct model_answer *a,
                  const struct trusted_context *t);

/* The policy line with this id, or NULL. */
const struct policy_line *answer_find_policy(const struct trusted_context *t,
                              const char *line_id);

#endif

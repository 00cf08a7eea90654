/* The model's answer: the OpenAI-compatible and the Anthropic response
 * parsers, then the answer parser and the verifier, as the providers and
 * decide.c call them; the error classifier on the same body. The same
 * input is also tried as the answer text itself. */
#include "autoconfig.h"

#include "anthropic_format.h"
#include "answer.h"
#include "fuzz.h"
#include "openai_format.h"
#include "provider.h"
#include "provider_error.h"

static const struct policy_line lines[] = {
	{ "P-7", "Stale service-account keys may be rotated within 30 days.", 30 },
	{ "P-9", "Keys of deleted accounts are revoked.", 0 },
};

static void
verify(const char *text, size_t len)
{
	struct trusted_context t = { 12, lines, 2 };
	struct model_answer a;

	if (answer_parse(text, len, &a) != KR_OK)
		return;
	if (a.nsources < 1 || a.nsources > DECISION_MAX_SOURCES ||
	    a.rotation_window_days < 0 || a.rotation_window_days > 90)
		abort();
	(void)answer_verify(&a, &t);
	t.key_age_days = 45;
	(void)answer_verify(&a, &t);
}

static void
parsed(struct provider_result *res)
{
	if (res->error == KR_OK) {
		if (res->text == NULL || memchr(res->text, '\0', res->text_len))
			abort();
		verify(res->text, res->text_len);
	} else if (res->text != NULL)
		abort();
	provider_result_free(res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct provider_result res;
	char *s = fuzz_str(data, size);
	int no_retry;
	long status;

	provider_result_init(&res);
	openai_parse_response(s, size, &res);
	parsed(&res);
	provider_result_init(&res);
	anthropic_parse_response(s, size, &res);
	parsed(&res);
	status = provider_error_classify(200, s, size, &no_retry);
	if (status < 200 || status > 599 || (no_retry != 0 && no_retry != 1))
		abort();
	status = provider_error_classify(429, s, size, &no_retry);
	if (status != 429 || (no_retry != 0 && no_retry != 1))
		abort();
	verify(s, size);
	free(s);
	return 0;
}

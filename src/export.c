#include "autoconfig.h"

#include <string.h>

#include "export.h"
#include "genai.h"

static const struct {
	const char *csv;
	const char *json;
	int         number;
} cols[EXPORT_COL__MAX] = {
	[EXPORT_TRACE_ID] = { "trace_id", "trace_id", 0 },
	[EXPORT_CREATED_AT] = { "created_at", "created_at", 0 },
	[EXPORT_FINISHED_AT] = { "finished_at", "finished_at", 0 },
	[EXPORT_ACCOUNT_ID] = { "account_id", "account_id", 0 },
	[EXPORT_STATUS] = { "status", "status", 0 },
	[EXPORT_DECISION] = { "decision", "decision", 0 },
	[EXPORT_MODEL_DECISION] = { "model_decision", "model_decision", 0 },
	[EXPORT_ERROR_CODE] = { "error_code", "error.type", 0 },
	[EXPORT_PROVIDER] = { "provider", "gen_ai.provider.name", 0 },
	[EXPORT_REQUEST_MODEL] = { "request_model", "gen_ai.request.model", 0 },
	[EXPORT_RESPONSE_MODEL] = { "response_model",
	    "gen_ai.response.model", 0 },
	[EXPORT_ATTEMPTS] = { "provider_attempts", "provider_attempts", 1 },
	[EXPORT_INPUT_TOKENS] = { "input_tokens",
	    "gen_ai.usage.input_tokens", 1 },
	[EXPORT_OUTPUT_TOKENS] = { "output_tokens",
	    "gen_ai.usage.output_tokens", 1 },
	[EXPORT_LATENCY_MS] = { "latency_ms", "latency_ms", 1 },
	[EXPORT_RESPONSE_ID] = { "response_id", "gen_ai.response.id", 0 },
	[EXPORT_FINISH_REASON] = { "finish_reason", "finish_reason", 0 },
	[EXPORT_PROMPT_VERSION] = { "prompt_version", "prompt_version", 0 },
	[EXPORT_INPUT_FINGERPRINT] = { "input_fingerprint",
	    "input_fingerprint", 0 },
	/* true or false: a trace of `keyrota eval`. */
	[EXPORT_EVAL] = { "eval", "eval", 1 },
};

enum export_format
export_format_parse(const char *s)
{
	if (strcmp(s, "csv") == 0)
		return EXPORT_CSV;
	if (strcmp(s, "json") == 0)
		return EXPORT_JSON;
	return EXPORT_NONE;
}

enum buf_status
export_csv_cell(struct buf *b, const char *v)
{
	enum buf_status st = BUF_OK;
	int formula = strchr("=+-@\t\r", v[0]) != NULL && v[0] != '\0';
	const char *p;

	if (!formula && strpbrk(v, ",\"\r\n") == NULL)
		return buf_puts(b, v);
	st = buf_putc(b, '"');
	if (st == BUF_OK && formula)
		st = buf_putc(b, '\'');
	for (p = v; st == BUF_OK && *p != '\0'; p++)
		st = *p == '"' ? buf_puts(b, "\"\"") : buf_putc(b, *p);
	return st == BUF_OK ? buf_putc(b, '"') : st;
}

enum buf_status
export_csv_header(struct buf *b)
{
	enum buf_status st = BUF_OK;
	int i;

	for (i = 0; st == BUF_OK && i < EXPORT_COL__MAX; i++) {
		if (i > 0)
			st = buf_putc(b, ',');
		if (st == BUF_OK)
			st = buf_puts(b, cols[i].csv);
	}
	return st == BUF_OK ? buf_puts(b, "\r\n") : st;
}

enum buf_status
export_csv_row(struct buf *b, const char *const *v)
{
	enum buf_status st = BUF_OK;
	int i;

	for (i = 0; st == BUF_OK && i < EXPORT_COL__MAX; i++) {
		if (i > 0)
			st = buf_putc(b, ',');
		if (st == BUF_OK)
			st = export_csv_cell(b, v[i]);
	}
	return st == BUF_OK ? buf_puts(b, "\r\n") : st;
}

enum buf_status
export_json_row(struct buf *b, const char *const *v, const struct config *cfg)
{
	enum buf_status st = buf_putc(b, '{');
	const char *s;
	char name[64], version[16];
	int i;

	for (i = 0; st == BUF_OK && i < EXPORT_COL__MAX; i++) {
		st = buf_printf(b, "%s\"%s\":", i > 0 ? "," : "", cols[i].json);
		if (st != BUF_OK)
			break;
		s = v[i];
		if (i == EXPORT_PROVIDER && s[0] != '\0')
			s = genai_provider_name(s, genai_base_url(cfg, s));
		if (s[0] == '\0')
			st = buf_puts(b, "null");
		else if (cols[i].number)
			/* Integer or boolean columns of the database. */
			st = buf_puts(b, s);
		else if ((st = buf_putc(b, '"')) == BUF_OK &&
		    (st = buf_json_escape(b, s)) == BUF_OK)
			st = buf_putc(b, '"');
	}
	/* The convention's names for what every trace shares. */
	genai_prompt_split(v[EXPORT_PROMPT_VERSION], name, sizeof(name), version, sizeof(version));
	if (st == BUF_OK)
		st = buf_puts(b, ",\"gen_ai.operation.name\":\"" GENAI_OPERATION
		    "\",\"gen_ai.prompt.name\":\"");
	if (st == BUF_OK)
		st = buf_json_escape(b, name);
	if (st == BUF_OK)
		st = buf_puts(b, "\",\"gen_ai.prompt.version\":\"");
	if (st == BUF_OK)
		st = buf_json_escape(b, version);
	if (st == BUF_OK)
		st = buf_putc(b, '"');
	return st == BUF_OK ? buf_putc(b, '}') : st;
}

/* export: the admin trace list as a download (README, "Admin exports"):
 * CSV cells safe to open in a spreadsheet, and the columns both formats
 * share. Rows are written one at a time by the caller, so an export of
 * any length uses the memory of one row. */
#ifndef KEYROTA_EXPORT_H
#define KEYROTA_EXPORT_H

#include "buf.h"

/* Rows an export holds at most, newest first. */
#define EXPORT_ROW_CAP 10000

enum export_format { EXPORT_NONE, EXPORT_CSV, EXPORT_JSON };

/* The columns, in order: the CSV header names and JSON keys (the JSON
 * keys follow the OpenTelemetry GenAI names where one exists). */
enum export_col {
	EXPORT_TRACE_ID, EXPORT_CREATED_AT, EXPORT_FINISHED_AT,
	EXPORT_ACCOUNT_ID, EXPORT_STATUS, EXPORT_DECISION,
	EXPORT_MODEL_DECISION, EXPORT_ERROR_CODE, EXPORT_PROVIDER,
	EXPORT_REQUEST_MODEL, EXPORT_RESPONSE_MODEL, EXPORT_ATTEMPTS,
	EXPORT_INPUT_TOKENS, EXPORT_OUTPUT_TOKENS, EXPORT_LATENCY_MS,
	EXPORT_RESPONSE_ID, EXPORT_FINISH_REASON, EXPORT_PROMPT_VERSION,
	EXPORT_INPUT_FINGERPRINT, EXPORT_EVAL, EXPORT_COL__MAX
};

/* "csv" or "json" to a format; EXPORT_NONE for anything else. */
enum export_format export_format_parse(const char *s);

/* Appends one CSV cell (RFC 4180 quoting). A cell that a spreadsheet
 * would read as a formula (starting with =, +, -, @, tab or CR) is quoted
 * and prefixed with an apostrophe, so it stays text. */
enum buf_status export_csv_cell(struct buf *b, const char *v);
/* The CSV header line, CRLF-terminated. */
enum buf_status export_csv_header(struct buf *b);
/* One CSV line from EXPORT_COL__MAX values ("" for none). */
enum buf_status export_csv_row(struct buf *b, const char *const *v);
struct config;
/* One JSON object from the same values: numbers as numbers, "" as null;
 * the provider as its gen_ai.provider.name (genai.h, with cfg's base URL;
 * cfg may be NULL), plus gen_ai.operation.name and the prompt's name and
 * version. */
enum buf_status export_json_row(struct buf *b, const char *const *v,
                    const struct config *cfg);

#endif

/* Retry-After (delta-seconds or HTTP-date) and retry-after-ms, as
 * provider_openai.c's header callback reads them. */
#include "autoconfig.h"

#include "fuzz.h"
#include "retry.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	long v;

	/* 2026-11-26T12:00:00Z: a fixed "now" keeps runs reproducible. */
	v = retry_after_parse(s, (time_t)1795694400);
	if (v < -1)
		abort();
	v = retry_after_ms_parse(s);
	if (v < -1)
		abort();
	free(s);
	return 0;
}

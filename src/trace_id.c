#include "autoconfig.h"

#include <string.h>

#include "token.h"
#include "trace_id.h"

int
trace_id_new(char out[TRACE_ID_SIZE])
{
	memcpy(out, "tr_", 3);
	return token_random(out + 3, TRACE_ID_SIZE - 3, 16);
}

int
trace_id_valid(const char *s)
{
	return strncmp(s, "tr_", 3) == 0 && token_valid(s + 3, TRACE_ID_LEN - 3);
}

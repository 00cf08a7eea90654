#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "provider.h"

void
provider_result_init(struct provider_result *r)
{
	memset(r, 0, sizeof(*r));
	r->input_tokens = -1;
	r->output_tokens = -1;
}

void
provider_result_free(struct provider_result *r)
{
	free(r->text);
	r->text = NULL;
	r->text_len = 0;
}

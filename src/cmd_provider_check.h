/* cmd_provider_check: `keyrota provider-check`, one real call with the
 * configured provider, for operators testing a key before deploying.
 * Prints the latency and the parsed, verified answer or the named error;
 * writes no trace. */
#ifndef KEYROTA_CMD_PROVIDER_CHECK_H
#define KEYROTA_CMD_PROVIDER_CHECK_H

struct config;
struct model_secrets;

/* Returns the exit status: 0 when the provider gave a valid answer. */
int cmd_provider_check(const struct config *cfg,
        const struct model_secrets *model);

#endif

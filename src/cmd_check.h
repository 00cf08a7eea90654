/* cmd_check: `keyrota check`, the deploy checklist as a command. One line a
 * check, PASS or FAIL; exit 1 when any check fails:
 *   configuration valid; key files present with safe permissions;
 *   database reachable; migrations current; /healthz and /readyz answer
 *   through the configured URL (no model call); the eval set passes (or
 *   a recent recorded run given with --eval-run passed); the README
 *   states the limits. */
#ifndef KEYROTA_CMD_CHECK_H
#define KEYROTA_CMD_CHECK_H

int cmd_check(int argc, char **argv);

#endif

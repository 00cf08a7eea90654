/* fingerprint: keyed fingerprints of report text (README, "Architecture").
 * A trace stores the first 12 hex digits of HMAC-SHA256(report) under a
 * server-side key, and the key's id, so equal reports can be matched without
 * the text ever being stored, and the key can rotate. */
#ifndef KEYROTA_FINGERPRINT_H
#define KEYROTA_FINGERPRINT_H

#include <stddef.h>

#define FINGERPRINT_HEX 12

struct fingerprint_key {
	unsigned char key[256];
	size_t        len;
	char          id[16];    /* "fk_" + 8 hex digits of SHA-256(key) */
};

int  fingerprint_key_set(struct fingerprint_key *k, const void *key,
         size_t len);
/* Reads the key file with secret_read's rules. */
int  fingerprint_key_load(struct fingerprint_key *k, const char *path,
         char *err, size_t errlen);
/* Plain SHA-256 of data, as 64 hex digits (file checksums). */
void fingerprint_sha256_hex(const void *data, size_t len, char out[65]);
/* Full HMAC-SHA256 of data, as 64 hex digits. */
void fingerprint_hmac_hex(const struct fingerprint_key *k, const void *data,
         size_t len, char out[65]);
/* The stored fingerprint: the first 12 of those digits. */
void fingerprint_report(const struct fingerprint_key *k, const char *text,
         char out[FINGERPRINT_HEX + 1]);
/* Digest of a whole request, telling an idempotent repeat from a
 * conflicting reuse of its key. item may be NULL. */
void fingerprint_request(const struct fingerprint_key *k,
         const char *account_id, const char *report, const char *item,
         char out[65]);

#endif

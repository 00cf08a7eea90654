#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "fingerprint.h"
#include "secret.h"

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
fingerprint_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	hex(md, 32, out);
}

int
fingerprint_key_set(struct fingerprint_key *k, const void *key, size_t len)
{
	char h[65];

	if (len == 0 || len > sizeof(k->key))
		return -1;
	memcpy(k->key, key, len);
	k->len = len;
	fingerprint_sha256_hex(key, len, h);
	snprintf(k->id, sizeof(k->id), "fk_%.8s", h);
	return 0;
}

int
fingerprint_key_load(struct fingerprint_key *k, const char *path, char *err,
    size_t errlen)
{
	char key[SECRET_MAX];
	size_t len;
	int rc;

	if (secret_read("KEYROTA_FINGERPRINT_KEY_FILE", path, key, &len, err,
	    errlen) != 0)
		return -1;
	rc = fingerprint_key_set(k, key, len);
	if (rc != 0)
		snprintf(err, errlen, "KEYROTA_FINGERPRINT_KEY_FILE: key longer "
		    "than %zu bytes", sizeof(k->key));
	secret_wipe(key, sizeof(key));
	return rc;
}

void
fingerprint_hmac_hex(const struct fingerprint_key *k, const void *data,
    size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), k->key, (int)k->len, data, len, md, &mdlen);
	hex(md, 32, out);
}

void
fingerprint_report(const struct fingerprint_key *k, const char *text,
    char out[FINGERPRINT_HEX + 1])
{
	char full[65];

	fingerprint_hmac_hex(k, text, strlen(text), full);
	memcpy(out, full, FINGERPRINT_HEX);
	out[FINGERPRINT_HEX] = '\0';
}

void
fingerprint_request(const struct fingerprint_key *k, const char *account_id,
    const char *report, const char *item, char out[65])
{
	struct buf b;

	/* NUL separators: no field can contain one, so no two requests
	 * share an encoding. */
	buf_init(&b, 4096);
	buf_append(&b, account_id, strlen(account_id) + 1);
	buf_append(&b, report, strlen(report) + 1);
	if (item != NULL)
		buf_append(&b, item, strlen(item) + 1);
	fingerprint_hmac_hex(k, buf_str(&b), b.len, out);
	buf_free(&b);
}

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fingerprint.h"
#include "secret.h"
#include "trace_id.h"
#include "unit.h"

/* RFC 4231, test case 2. */
static void
test_hmac_sha256_known_vector(void)
{
	struct fingerprint_key k;
	char hex[65], fp[FINGERPRINT_HEX + 1];

	CU_ASSERT_EQUAL_FATAL(fingerprint_key_set(&k, "Jefe", 4), 0);
	fingerprint_hmac_hex(&k, "what do ya want for nothing?", 28, hex);
	CU_ASSERT_STRING_EQUAL(hex, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	fingerprint_report(&k, "what do ya want for nothing?", fp);
	CU_ASSERT_STRING_EQUAL(fp, "5bdcc146bf60");
}

static void
test_key_id_changes_with_key(void)
{
	struct fingerprint_key a, b;

	fingerprint_key_set(&a, "key-one", 7);
	fingerprint_key_set(&b, "key-two", 7);
	CU_ASSERT_EQUAL(strlen(a.id), 11);
	CU_ASSERT_EQUAL(strncmp(a.id, "fk_", 3), 0);
	CU_ASSERT_STRING_NOT_EQUAL(a.id, b.id);
	CU_ASSERT_PTR_NULL(strstr(a.id, "key-one"));
	CU_ASSERT_EQUAL(fingerprint_key_set(&a, "", 0), -1);
}

static void
test_request_digest_separates_fields(void)
{
	struct fingerprint_key k;
	char d1[65], d2[65], d3[65], d4[65];

	fingerprint_key_set(&k, "k", 1);
	fingerprint_request(&k, "acct_10234", "ab", "c", d1);
	fingerprint_request(&k, "acct_10234", "a", "bc", d2);
	fingerprint_request(&k, "acct_10234", "abc", NULL, d3);
	fingerprint_request(&k, "acct_10234", "ab", "c", d4);
	CU_ASSERT_STRING_NOT_EQUAL(d1, d2);
	CU_ASSERT_STRING_NOT_EQUAL(d1, d3);
	CU_ASSERT_STRING_EQUAL(d1, d4);
}

static void
test_trace_id_format_and_uniqueness(void)
{
	static char ids[2000][TRACE_ID_SIZE];
	size_t i, j;
	int dup = 0;

	for (i = 0; i < 2000; i++) {
		CU_ASSERT_EQUAL_FATAL(trace_id_new(ids[i]), 0);
		CU_ASSERT_EQUAL(strlen(ids[i]), TRACE_ID_LEN);
		CU_ASSERT_TRUE(trace_id_valid(ids[i]));
		CU_ASSERT_EQUAL(strspn(ids[i] + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_"), 22);
	}
	for (i = 0; i < 2000; i++)
		for (j = i + 1; j < 2000; j++)
			dup += strcmp(ids[i], ids[j]) == 0;
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_FALSE(trace_id_valid("tr_short"));
	CU_ASSERT_FALSE(trace_id_valid("tx_AAAAAAAAAAAAAAAAAAAAAA"));
	CU_ASSERT_FALSE(trace_id_valid("tr_AAAAAAAAAAAAAAAAAAAAA/"));
	CU_ASSERT_FALSE(trace_id_valid("tr_AAAAAAAAAAAAAAAAAAAAAAA"));
}

static void
test_trace_id_maps_to_w3c(void)
{
	char w3c[TRACE_ID_W3C_SIZE];

	/* Bytes 01..10 in base64url. */
	CU_ASSERT_EQUAL(trace_id_to_w3c("tr_AQIDBAUGBwgJCgsMDQ4PEA", w3c), 0);
	CU_ASSERT_STRING_EQUAL(w3c, "0102030405060708090a0b0c0d0e0f10");
	CU_ASSERT_EQUAL(trace_id_to_w3c("tr______________________w", w3c), 0);
	CU_ASSERT_STRING_EQUAL(w3c, "ffffffffffffffffffffffffffffffff");
	/* All zero is reserved; bits past the 128th mean no mapping. */
	CU_ASSERT_EQUAL(trace_id_to_w3c("tr_AAAAAAAAAAAAAAAAAAAAAA", w3c), -1);
	CU_ASSERT_EQUAL(trace_id_to_w3c("tr_AQIDBAUGBwgJCgsMDQ4PEB", w3c), -1);
	CU_ASSERT_EQUAL(trace_id_to_w3c("tr_short", w3c), -1);
}

static void
write_bytes(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, text, len), (ssize_t)len);
	close(fd);
	chmod(path, mode);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	write_bytes(path, text, strlen(text), mode);
}

static void
test_secret_file_rules(void)
{
	char dir[] = "/tmp/keyrota-secret-XXXXXX", path[128], key[SECRET_MAX];
	char err[256];
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);

	write_file(path, "s3cret-value\n", 0600);
	CU_ASSERT_EQUAL(secret_read("V", path, key, &len, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(key, "s3cret-value");
	CU_ASSERT_EQUAL(len, 12);

	write_file(path, "s3cret-value\n", 0640);
	CU_ASSERT_EQUAL(secret_read("V", path, key, &len, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "group or others"));
	CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));

	write_file(path, "s3cret-value\n", 0604);
	CU_ASSERT_EQUAL(secret_read("V", path, key, &len, err, sizeof(err)), -1);

	write_file(path, "\n", 0600);
	CU_ASSERT_EQUAL(secret_read("V", path, key, &len, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));

	/* Binary keys (a fingerprint key) are read whole, NULs included. */
	write_bytes(path, "s3cret\0value\n", 13, 0600);
	CU_ASSERT_EQUAL(secret_read("V", path, key, &len, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(len, 12);

	unlink(path);
	CU_ASSERT_EQUAL(secret_read("V", path, key, &len, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "V: cannot open"));
	/* What is read must be the whole file as fstat saw it: this file
	 * (mode 0400, our own) claims 0 bytes and reads more. */
	CU_ASSERT_EQUAL(secret_read("V", "/proc/self/auxv", key, &len, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "read"));
	CU_ASSERT_EQUAL(secret_read("V", "", key, &len, err, sizeof(err)), -1);
	rmdir(dir);
}

void
suite_fingerprint(void)
{
	CU_pSuite s = CU_add_suite("fingerprint", NULL, NULL);

	ADD_TEST(s, test_hmac_sha256_known_vector);
	ADD_TEST(s, test_key_id_changes_with_key);
	ADD_TEST(s, test_request_digest_separates_fields);
	ADD_TEST(s, test_trace_id_format_and_uniqueness);
	ADD_TEST(s, test_trace_id_maps_to_w3c);
	ADD_TEST(s, test_secret_file_rules);
}

/* trace_id: opaque trace ids, "tr_" and 128 random bits in URL-safe
 * base64 (22 characters), from OpenSSL's CSPRNG. */
#ifndef KEYROTA_TRACE_ID_H
#define KEYROTA_TRACE_ID_H

#define TRACE_ID_LEN 25            /* "tr_" + 22 */
#define TRACE_ID_SIZE (TRACE_ID_LEN + 1)

/* Returns 0, or -1 when the random generator fails. */
int trace_id_new(char out[TRACE_ID_SIZE]);
/* True for a string of this shape (any keyrota trace id). */
int trace_id_valid(const char *s);

/* The W3C Trace Context trace id (32 lowercase hex digits) the trace id
 * maps to: its 128 bits, decoded. Returns 0, or -1 when the id does not
 * hold exactly 128 bits (its last character carries bits past them) or
 * they are all zero, which W3C reserves. */
#define TRACE_ID_W3C_SIZE 33
int trace_id_to_w3c(const char *s, char out[TRACE_ID_W3C_SIZE]);

#endif

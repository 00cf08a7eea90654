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

#endif

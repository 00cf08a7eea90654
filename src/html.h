/* html: escaping for HTML text and attribute values. */
#ifndef KEYROTA_HTML_H
#define KEYROTA_HTML_H

#include "buf.h"

/* Appends s with & < > " ' replaced by entities: safe in text and in quoted
 * attribute values alike. */
enum buf_status html_escape(struct buf *b, const char *s);

#endif

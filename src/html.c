#include "autoconfig.h"

#include <string.h>

#include "html.h"

enum buf_status
html_escape(struct buf *b, const char *s)
{
	enum buf_status st = BUF_OK;
	const char *run = s;

	for (; *s != '\0' && st == BUF_OK; s++) {
		const char *ent;

		switch (*s) {
		case '&':  ent = "&amp;"; break;
		case '<':  ent = "&lt;"; break;
		case '>':  ent = "&gt;"; break;
		case '"':  ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default:   continue;
		}
		if ((st = buf_append(b, run, (size_t)(s - run))) == BUF_OK)
			st = buf_puts(b, ent);
		run = s + 1;
	}
	if (st == BUF_OK)
		st = buf_append(b, run, (size_t)(s - run));
	return st;
}

#include "autoconfig.h"

#include <string.h>

#include "html.h"
#include "utf8.h"

enum buf_status
html_escape(struct buf *b, const char *s)
{
	enum buf_status st = BUF_OK;
	const char *run = s;
	unsigned long cp;
	size_t n, len = strlen(s);

	for (; *s != '\0' && st == BUF_OK; s++, len--) {
		const char *ent;

		if ((unsigned char)*s >= 0x80) {
			n = utf8_next((const unsigned char *)s, len, &cp);
			if (n > 0) {
				s += n - 1;
				len -= n - 1;
				continue;
			}
			ent = "\xef\xbf\xbd";     /* U+FFFD for a byte that is not UTF-8 */
		} else switch (*s) {
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

/* The template compiler and renderer. Input: a page template, optionally
 * followed by a NUL and a layout, rendered with a fixed context. */
#include "autoconfig.h"

#include "fuzz.h"
#include "template.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template *page, *layout = NULL;
	struct template_ctx *ctx, *item;
	struct buf out;
	char err[256], *s = fuzz_str(data, size);
	size_t n = strlen(s);

	if ((page = template_compile("page", s, err, sizeof(err))) == NULL)
		goto out;
	if (n < size)
		layout = template_compile("layout", s + n + 1, err, sizeof(err));
	ctx = template_ctx_new();
	template_set(ctx, "title", "<b>\"a\" & 'b'</b>");
	template_set(ctx, "empty", "");
	template_set_bool(ctx, "flag", 1);
	template_set_bool(ctx, "off", 0);
	template_setf(ctx, "n", "%d", 42);
	item = template_list_add(ctx, "items");
	template_set(item, "x", "one");
	item = template_list_add(ctx, "items");
	template_set(item, "x", "<two>");
	template_list(ctx, "none");
	template_set(template_object(ctx, "obj"), "x", "inner");
	buf_init(&out, 64 * 1024);
	(void)template_render(page, layout, ctx, &out, err, sizeof(err));
	buf_free(&out);
	template_ctx_free(ctx);
	template_free(layout);
	template_free(page);
out:
	free(s);
	return 0;
}

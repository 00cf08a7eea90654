/* The template compiler and renderer. Input: a page template, optionally
 * followed by a NUL and a layout, rendered with a fixed context. */
#include "autoconfig.h"

#include "fuzz.h"
#include "template.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template *page, *layout = NULL;
	struct tctx *ctx, *item;
	struct buf out;
	char err[256], *s = fuzz_str(data, size);
	size_t n = strlen(s);

	if ((page = template_compile("page", s, err, sizeof(err))) == NULL)
		goto out;
	if (n < size)
		layout = template_compile("layout", s + n + 1, err, sizeof(err));
	ctx = tctx_new();
	tctx_set(ctx, "title", "<b>\"a\" & 'b'</b>");
	tctx_set(ctx, "empty", "");
	tctx_set_bool(ctx, "flag", 1);
	tctx_set_bool(ctx, "off", 0);
	tctx_setf(ctx, "n", "%d", 42);
	item = tctx_list_add(ctx, "items");
	tctx_set(item, "x", "one");
	item = tctx_list_add(ctx, "items");
	tctx_set(item, "x", "<two>");
	tctx_list(ctx, "none");
	tctx_set(tctx_object(ctx, "obj"), "x", "inner");
	buf_init(&out, 64 * 1024);
	(void)template_render(page, layout, ctx, &out, err, sizeof(err));
	buf_free(&out);
	tctx_free(ctx);
	template_free(layout);
	template_free(page);
out:
	free(s);
	return 0;
}

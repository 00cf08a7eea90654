"""The HTML pages and the form flow, through nginx."""
import re
import time
import urllib.parse

from harness import (PORT, check, eq, get, psql, request, restart_keyrota, stack, test,
                     wait_for)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
STALE = "The CI deploy key of this service account is stale."


def html_headers_ok(r):
    eq(r.headers.get("content-security-policy"), CSP, "CSP")
    eq(r.headers.get("x-content-type-options"), "nosniff")
    eq(r.headers.get("referrer-policy"), "no-referrer")
    eq(r.headers.get("cache-control"), "no-store")
    check(r.headers["content-type"].startswith("text/html"), r.headers["content-type"])


def open_form():
    r = get("/", headers={"Accept": "text/html"})
    eq(r.status, 200)
    cookie = r.headers["set-cookie"]
    check("HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie)
    csrf = re.search(r"keyrota_csrf=([A-Za-z0-9_-]+)", cookie).group(1)
    fields = dict(re.findall(r'name="(csrf_token|request_token)" value="([^"]*)"', r.text))
    return r, csrf, fields


def post_form(values, csrf_cookie=None, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
         "Sec-Fetch-Site": "same-origin"}
    if csrf_cookie is not None:
        h["Cookie"] = "other=1; keyrota_csrf=" + csrf_cookie
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    return request("POST", "/rotation/decide", body=urllib.parse.urlencode(values), headers=h)


def submit(report=STALE, account="acct_10234", **over):
    _, csrf, fields = open_form()
    values = {"csrf_token": fields["csrf_token"], "request_token": fields["request_token"],
              "account_id": account, "credential_report": report, "item": ""}
    values.update(over)
    return post_form(values, csrf), values, csrf


def trace_count():
    return int(psql("SELECT count(*) FROM traces")[0][0])


@test
def idle_page_has_the_form_headers_and_names_the_provider():
    r, csrf, fields = open_form()
    html_headers_ok(r)
    eq(fields["csrf_token"], csrf, "hidden token matches the cookie")
    check(len(fields["request_token"]) >= 20, fields)
    for needle in ('<label for="account_id">', '<label for="credential_report">',
                   'maxlength="500"', 'maxlength="80"', 'aria-live="polite"',
                   'action="/rotation/decide"', "fixture", "not a language model",
                   '/static/keyrota.js'):
        check(needle in r.text, "idle page lacks " + needle)
    check("<script>" not in r.text and "style=" not in r.text, "no inline script or style")


@test
def csrf_failures_are_403_and_write_no_trace():
    before = trace_count()
    _, csrf, fields = open_form()
    good = {"csrf_token": fields["csrf_token"], "request_token": fields["request_token"],
            "account_id": "acct_10234", "credential_report": STALE}
    cases = [
        (dict(good, csrf_token=""), csrf, {}),
        ({k: v for k, v in good.items() if k != "csrf_token"}, csrf, {}),
        (dict(good, csrf_token="A" * len(csrf)), csrf, {}),
        (good, None, {}),
        (good, csrf, {"Sec-Fetch-Site": "cross-site"}),
        (good, csrf, {"Sec-Fetch-Site": "same-site"}),
        (good, csrf, {"Sec-Fetch-Site": None, "Origin": "http://evil.example"}),
        (good, csrf, {"Sec-Fetch-Site": None,
                      "Origin": "http://127.0.0.1.evil.example:18080"}),
        (good, csrf, {"Sec-Fetch-Site": None, "Origin": "null"}),
        (dict(good, request_token="bad token!"), csrf, {}),
    ]
    for values, cookie, headers in cases:
        r = post_form(values, cookie, headers)
        eq(r.status, 403, repr((values, cookie, headers)))
        check("csrf_failed" in r.text, r.text[:200])
        html_headers_ok(r)
    eq(trace_count(), before, "no trace for a refused form")


@test
def same_origin_post_with_a_port_is_accepted():
    _, csrf, fields = open_form()
    values = {"csrf_token": fields["csrf_token"], "request_token": fields["request_token"],
              "account_id": "acct_10234", "credential_report": STALE}
    r = post_form(values, csrf, {"Sec-Fetch-Site": None,
                                 "Origin": "http://127.0.0.1:%d" % PORT})
    eq(r.status, 303, r.text[:300])
    # Chromium under Referrer-Policy: no-referrer: Origin null, same-origin.
    _, csrf, fields = open_form()
    values.update(csrf_token=fields["csrf_token"], request_token=fields["request_token"])
    r = post_form(values, csrf, {"Origin": "null"})
    eq(r.status, 303, r.text[:300])


@test
def invalid_input_re_renders_the_form_escaped_with_422():
    before = trace_count()
    payload = '"><img src=x onerror=alert(1)>'
    r, values, _ = submit(report="<script>alert(1)</script>", account=payload, item="ab")
    eq(r.status, 422)
    html_headers_ok(r)
    check("<script>alert(1)</script>" not in r.text, "script echoed raw")
    check("<img src=x" not in r.text, "attribute payload echoed raw")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, "input kept, escaped")
    check("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in r.text, "input kept, escaped")
    check("The account ID must look like acct_12345" in r.text, "account message")
    check("The credential name must be 3 to 80 characters" in r.text, "item message")
    check(r.text.count('aria-invalid="true"') == 2, "two fields marked invalid")
    eq(trace_count(), before)


@test
def textarea_line_breaks_are_accepted():
    r, _, _ = submit(report="First line.\r\nThe key is stale.\r\n")
    eq(r.status, 303, r.text[:300])


@test
def form_redirects_at_once_then_shows_running_then_completed():
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=1500)
    try:
        started = time.monotonic()
        r, _, _ = submit()
        eq(r.status, 303)
        check(time.monotonic() - started < 1.0, "303 came before the model answered")
        location = r.headers["location"]
        check(re.fullmatch(r"/rotation/traces/tr_[A-Za-z0-9_-]{22}", location), location)
        page = get(location, headers={"Accept": "text/html"})
        html_headers_ok(page)
        check("Checking policy P-7..." in page.text, page.text[:500])
        check('<noscript><meta http-equiv="refresh" content="4">' in page.text,
              "refreshes calmly without JS")
        check("<button" not in page.text and "disabled" not in page.text,
              "no stale form controls while running")
        done = wait_for(lambda: "Eligible under P-7" in get(location).text, timeout=10)
        check(done, "never completed")
        page = get(location)
        check("No rotation job has been created" in page.text, "no-job statement")
        check("Stale service-account keys may be rotated within 30 days." in page.text,
              "policy line text")
        check(location.rsplit("/", 1)[1] in page.text, "trace id shown")
    finally:
        restart_keyrota()


@test
def sigterm_after_the_303_still_finishes_the_decision():
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=1500)
    try:
        r, _, _ = submit()
        eq(r.status, 303)
        trace_id = r.headers["location"].rsplit("/", 1)[1]
        stack("keyrota-stop")        # the request is answered; its decision is not
        rows = psql("SELECT status, coalesce(decision, '') FROM traces WHERE trace_id = :'p1'",
                    trace_id)
        eq(rows, [["completed", "eligible"]], "drained, not lost")
    finally:
        restart_keyrota()


@test
def failed_page_names_the_error_and_trace():
    r, _, _ = submit(account="acct_10235")
    eq(r.status, 303)
    # The 303 leaves as soon as the trace runs; the decision may still be
    # finishing when the page is first asked for.
    check(wait_for(lambda: "Decision unavailable; retry safely." in
                   get(r.headers["location"]).text, timeout=10), "never failed")
    page = get(r.headers["location"])
    check("policy_conflict" in page.text, "error code shown")
    check(r.headers["location"].rsplit("/", 1)[1] in page.text, "trace id shown")
    check('href="/"' in page.text, "a way back to the form")


@test
def double_submit_yields_one_trace():
    _, csrf, fields = open_form()
    values = {"csrf_token": fields["csrf_token"], "request_token": fields["request_token"],
              "account_id": "acct_10234", "credential_report": STALE + " (double)"}
    before = trace_count()
    first = post_form(values, csrf)
    second = post_form(values, csrf)
    eq((first.status, second.status), (303, 303))
    eq(second.headers["location"], first.headers["location"], "same trace")
    eq(trace_count(), before + 1, "one trace")


@test
def error_pages_use_the_layout():
    r = get("/no/such/page", headers={"Accept": "text/html"})
    eq(r.status, 404)
    html_headers_ok(r)
    check("keyrota" in r.text and "not_found" in r.text and 'href="/"' in r.text, r.text[:300])
    r = get("/rotation/traces/tr_AAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": "text/html"})
    eq(r.status, 404)
    html_headers_ok(r)


@test
def static_files_are_served_with_caching_headers():
    for path, ctype in (("/static/keyrota.css", "text/css"),
                        ("/static/keyrota.js", "application/javascript")):
        r = get(path)
        eq(r.status, 200, path)
        check(r.headers["content-type"].startswith(ctype), r.headers["content-type"])
        check("max-age=3600" in r.headers.get("cache-control", ""), r.headers)
        eq(r.headers.get("x-content-type-options"), "nosniff")

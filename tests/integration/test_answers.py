"""Answers: every error keyrota gives, as JSON and as a page, carries the
code, status and sentence of its row in the error tables (src/errors.c),
Cache-Control: no-store, and Retry-After exactly where the row has one."""
import html
import json
import os
import re
import urllib.parse

from harness import (ROOT, VAR, check, eq, fcgi_request, get, request, stack, test,
                     wait_for)

SOCK = os.path.join(VAR, "run", "keyrota.sock")
GOOD = {"account_id": "acct_10234", "credential_report": "The CI deploy key is stale."}
NO_TRACE = "/rotation/traces/tr_AAAAAAAAAAAAAAAAAAAAAA"
NO_RUN = "/admin/evals?run=ev_AAAAAAAAAAAAAAAAAAAAAA"


def _rows():
    """The rows of both tables in src/errors.c, by enum name:
    (code, status, retry_after_s, sentence)."""
    with open(os.path.join(ROOT, "src", "errors.c")) as f:
        text = f.read()
    rows = {}
    for m in re.finditer(r'\[(KR_\w+)\]\s*=\s*\{\s*"([^"]*)",\s*(\d+),\s*(\d+),\s*'
                         r'((?:"(?:[^"\\]|\\.)*"\s*)+)\}', text):
        words = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(5)))
        rows[m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)), words)
    return rows


ROWS = _rows()


def password():
    with open(os.path.join(VAR, "secrets", "admin.password")) as f:
        return f.read().strip()


def admin_auth():
    import base64
    return {"Authorization": "Basic " + base64.b64encode(
        ("admin:" + password()).encode()).decode()}


def as_json(headers=None):
    return dict(headers or {}, Accept="application/json")


def as_html(headers=None):
    return dict(headers or {}, Accept="text/html")


def error_ok(r, name, what, retry=None):
    """r is the answer of the row called name, in JSON or HTML."""
    check(name in ROWS, "errors.c has no row %s (rows: %s)" % (name, sorted(ROWS)))
    code, status, retry_s, words = ROWS[name]
    eq(r.status, status, "%s: status" % what)
    eq(r.headers.get("cache-control"), "no-store", "%s: Cache-Control" % what)
    if r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        eq(body.get("error_code"), code, "%s: error_code" % what)
        eq(body.get("error"), words, "%s: error" % what)
    else:
        check(r.headers.get("content-type", "").startswith("text/html"),
              "%s: JSON or HTML, not %r" % (what, r.headers.get("content-type")))
        check("<code>%s</code>" % code in r.text, "%s: code on the page: %s" % (what, r.text[:400]))
        check(html.escape(words, quote=True).replace("&#x27;", "&#39;") in r.text,
              "%s: sentence on the page: %s" % (what, r.text[:600]))
        check("HTTP %d" % status in r.text, "%s: status on the page" % what)
    if retry_s:
        want = str(retry) if retry is not None else None
        got = r.headers.get("retry-after")
        check(got is not None and re.fullmatch(r"[1-9][0-9]*", got),
              "%s: Retry-After is a number of seconds: %r" % (what, got))
        if want is not None:
            eq(got, want, "%s: Retry-After" % what)
    else:
        eq(r.headers.get("retry-after"), None, "%s: no Retry-After" % what)


def both(fn, name, what, **kw):
    """The same request asked for JSON, then for a page."""
    error_ok(fn(as_json()), name, what + " (JSON)", **kw)
    error_ok(fn(as_html()), name, what + " (HTML)", **kw)


def fcgi(method, path, params, body=b""):
    """keyrota's own answer, straight from its socket: a Response-like."""
    out = fcgi_request(SOCK, method, path, body, params)
    head, _, payload = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()

    class R:
        pass
    r = R()
    r.status = int(headers.get("status", "0").split()[0])
    r.headers = headers
    r.body = payload
    r.text = payload.decode("utf-8", "replace")
    r.json = lambda: json.loads(payload)
    return r


@test
def dispatch_errors_come_from_the_table():
    both(lambda h: get("/no/such/page", headers=h), "KR_HTTP_NO_PAGE", "unknown path")
    both(lambda h: request("DELETE", "/healthz", headers=h), "KR_HTTP_BAD_METHOD", "405")
    both(lambda h: request("POST", "/rotation/decide", body=b"x" * (16 * 1024 + 1),
                           headers=dict(h, **{"Content-Type": "application/json"})),
         "KR_PAYLOAD_TOO_LARGE", "413")
    both(lambda h: request("POST", "/rotation/decide", body=b"hello",
                           headers=dict(h, **{"Content-Type": "text/plain"})),
         "KR_UNSUPPORTED_MEDIA_TYPE", "415")
    # nginx's limit_req hands a refused request over with its Retry-After.
    for accept in ("application/json", "text/html"):
        r = fcgi("POST", "/rotation/decide", {"HTTP_ACCEPT": accept,
                                             "CONTENT_TYPE": "application/json",
                                             "KEYROTA_RATE_LIMITED": "7"})
        error_ok(r, "KR_RATE_LIMITED", "429 " + accept, retry=7)


@test
def decision_errors_come_from_the_table():
    def invalid(h):
        return request("POST", "/rotation/decide", body={"account_id": "nope"},
                       headers=dict(h, **{"Content-Type": "application/json"}))
    r = invalid(as_json())
    error_ok(r, "KR_INVALID_REQUEST", "422 (JSON)")
    check("account_id" in r.json().get("fields", {}), r.text)
    r = invalid(as_html())
    error_ok(r, "KR_INVALID_REQUEST", "422 (HTML)")
    check("An account ID" in r.text or "account_id" in r.text, "the field is named: " + r.text)
    key = {"Idempotency-Key": "answers-%d" % os.getpid()}
    eq(request("POST", "/rotation/decide", body=GOOD, headers=as_json(key)).status, 200)
    other = dict(GOOD, credential_report="Another report about a stale key.")
    both(lambda h: request("POST", "/rotation/decide", body=other, headers=dict(h, **key)),
         "KR_IDEMPOTENCY_CONFLICT", "409")


@test
def page_and_admin_errors_come_from_the_table():
    both(lambda h: get(NO_TRACE, headers=h), "KR_HTTP_NO_TRACE", "unknown trace")
    both(lambda h: get("/admin/traces/tr_AAAAAAAAAAAAAAAAAAAAAA",
                       headers=dict(h, **admin_auth())), "KR_HTTP_NO_TRACE", "admin: unknown trace")
    both(lambda h: get(NO_RUN, headers=dict(h, **admin_auth())), "KR_HTTP_NO_EVAL_RUN",
         "admin: unknown eval run")
    # keyrota's own login check, behind nginx's: no KEYROTA_AUTH_USER.
    for accept in ("application/json", "text/html"):
        r = fcgi("GET", "/admin/traces", {"HTTP_ACCEPT": accept})
        error_ok(r, "KR_HTTP_UNAUTHORIZED", "401 " + accept)
        check("basic" in r.headers.get("www-authenticate", "").lower(), r.headers)
    # A form post without its CSRF token.
    r = request("POST", "/rotation/decide", body=urllib.parse.urlencode(GOOD),
                headers=as_html({"Content-Type": "application/x-www-form-urlencoded"}))
    error_ok(r, "KR_CSRF_FAILED", "403 (HTML)")
    r = request("POST", "/rotation/decide", body=urllib.parse.urlencode(GOOD),
                headers=as_json({"Content-Type": "application/x-www-form-urlencoded"}))
    error_ok(r, "KR_CSRF_FAILED", "403 (JSON)")
    # An invalid admin filter: 422 with the field named, as JSON or on the list page.
    r = get("/admin/traces?status=nope", headers=as_json(admin_auth()))
    error_ok(r, "KR_INVALID_REQUEST", "admin filter (JSON)")
    check("status" in r.json().get("fields", {}), r.text)
    r = get("/admin/traces?status=nope", headers=as_html(admin_auth()))
    eq(r.status, 422)
    eq(r.headers.get("cache-control"), "no-store")
    check("Status is running, completed or failed." in r.text, r.text[:400])


@test
def database_unavailable_answers_carry_retry_after_everywhere():
    adm = admin_auth()
    stack("pg-stop")
    try:
        both(lambda h: get(NO_TRACE, headers=h), "KR_DATABASE_UNAVAILABLE", "trace", retry=5)
        both(lambda h: get("/admin/traces", headers=dict(h, **adm)),
             "KR_DATABASE_UNAVAILABLE", "admin list", retry=5)
        both(lambda h: get("/admin/traces?format=csv", headers=dict(h, **adm)),
             "KR_DATABASE_UNAVAILABLE", "admin export", retry=5)
        both(lambda h: get("/admin/traces/tr_AAAAAAAAAAAAAAAAAAAAAA", headers=dict(h, **adm)),
             "KR_DATABASE_UNAVAILABLE", "admin detail", retry=5)
        both(lambda h: get("/admin/evals", headers=dict(h, **adm)),
             "KR_DATABASE_UNAVAILABLE", "admin evals", retry=5)
        error_ok(request("POST", "/rotation/decide", body=GOOD, headers=as_json()),
                 "KR_DATABASE_UNAVAILABLE", "decide", retry=5)
        r = get("/readyz")
        eq(r.status, 503, "readyz")
        eq(r.json().get("error_code"), "database_unavailable", "readyz")
        eq(r.headers.get("retry-after"), "5", "readyz")
        eq(r.headers.get("cache-control"), "no-store", "readyz")
    finally:
        stack("pg-start")
    check(wait_for(lambda: get("/readyz").status == 200, timeout=15), "ready again")


@test
def every_answer_is_no_store():
    for r, what in ((request("POST", "/rotation/decide", body=GOOD, headers=as_json()), "decision"),
                    (get("/healthz"), "healthz"), (get("/readyz"), "readyz"),
                    (get("/", headers=as_html()), "form"),
                    (get("/metrics"), "metrics")):
        eq(r.headers.get("cache-control"), "no-store", what)

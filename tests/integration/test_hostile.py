"""Hostile requests through the real nginx: what an attacker would send.

Every case checks the status, that nothing answered 5xx, that nothing was
stored and that no admin data left without credentials; the module ends by
checking that keyrota's JSON log stayed one valid object per line."""
import base64
import json
import os
import re
import socket
import time
import urllib.parse
import uuid

from harness import (PORT, VAR, check, eq, fcgi_get, get, psql, request, test)

STALE = "The CI deploy key of this service account is stale."
GOOD = {"account_id": "acct_10234", "credential_report": STALE}
JSON_H = {"Content-Type": "application/json", "Accept": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
          "Sec-Fetch-Site": "same-origin"}
FILTERS = ["trace_id", "account_id", "status", "error_code", "from", "to", "after"]
SQLI = ["' OR '1'='1", "acct_10234'; DROP TABLE traces; --", "\" OR 1=1 --",
        "1); SELECT pg_sleep(5); --", "$1", "\\x27 UNION SELECT * FROM accounts --"]


def trace_count():
    return int(psql("SELECT count(*) FROM traces")[0][0])


def trusted_rows():
    return psql("SELECT account_id, key_created_at::text FROM accounts ORDER BY 1")


def raw(data, timeout=10):
    """Sends raw bytes to nginx; returns (status, headers+body bytes)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    return (int(m.group(1)) if m else 0), out


def decide_raw(body, headers=None):
    h = dict(JSON_H)
    h.update(headers or {})
    return request("POST", "/rotation/decide", body=body, headers=h)


def no_5xx(r, what):
    check(r.status < 500, "%s: %d %s" % (what, r.status, r.text[:200]))


def fields_of(r):
    eq(r.status, 422, r.text[:300])
    body = r.json()
    eq(body["error_code"], "invalid_request")
    return body["fields"]


def open_form():
    r = get("/", headers={"Accept": "text/html"})
    eq(r.status, 200)
    cookie = r.headers["set-cookie"]
    name, csrf = re.search(r"((?:__Host-)?keyrota_csrf)=([A-Za-z0-9_-]+)", cookie).groups()
    fields = dict(re.findall(r'name="(csrf_token|request_token)" value="([^"]*)"', r.text))
    return name, csrf, fields, cookie


def post_form(values, cookie_header=None, headers=None, raw_body=None):
    h = dict(FORM_H)
    if cookie_header is not None:
        h["Cookie"] = cookie_header
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    body = raw_body if raw_body is not None else urllib.parse.urlencode(values)
    return request("POST", "/rotation/decide", body=body, headers=h)


# --- item 1: what the client sent, not what json-c made of it -------------

@test
def escaped_lone_surrogate_and_hidden_characters_are_422_naming_the_field():
    before = trace_count()
    cases = [
        (b'{"account_id":"acct_10234","credential_report":"stale key \\ud800 here"}',
         "credential_report"),
        (b'{"account_id":"acct_10234","credential_report":"stale key \\udc00 here"}',
         "credential_report"),
        (b'{"account_id":"acct_10234","credential_report":"a stale key here",'
         b'"item":"ci\\ud83dkey"}', "item"),
        (b'{"account_id":"acct_10234","credential_report":"stale key \\u0000 here"}',
         "credential_report"),
        (b'{"account_id":"acct_10234","credential_report\\u0000x":"a stale key here"}',
         "credential_report?x"),
        (b'{"account_id":"acct_10234","credential_report":"stale \\u202e key here"}',
         "credential_report"),
        ('{"account_id":"acct_10234","credential_report":"stale\u200bkey here"}'.encode(),
         "credential_report"),
        (b'{"account_id":"acct_10234","credential_report":"\\ufeffa stale key here"}',
         "credential_report"),
        (b'{"account_id":"acct_10234","credential_report":"   \\n\\t        "}',
         "credential_report"),
        (b'{"account_id":"acct_10234","credential_report":"a stale key here",'
         b'"item":"\\u2066abc\\u2069"}', "item"),
    ]
    for body, field in cases:
        r = decide_raw(body)
        f = fields_of(r)
        check(field in f, "%r: fields %r" % (body, f))
    # A proper surrogate pair is one character and fine.
    r = decide_raw(b'{"account_id":"acct_10234","credential_report":'
                   b'"stale key \\ud83d\\udd11 here"}')
    eq(r.status, 200, r.text[:300])
    eq(trace_count(), before + 1, "only the valid report wrote a trace")


@test
def unknown_keys_are_echoed_as_valid_bounded_text():
    longkey = "\u00e9" * 40                          # 80 bytes, cut at the bound
    body = ('{"%s":1,"a\\u001b[2Jb":2,"\\udc00":3,"account_id":"acct_10234",'
            '"credential_report":"a stale key here"}' % longkey).encode()
    r = decide_raw(body)
    eq(r.status, 422)
    r.body.decode("utf-8")                            # strict: raises if invalid
    f = r.json()["fields"]
    eq(len(f), 3, f)
    for k in f:
        check(len(k.encode()) < 48, k)
        check(not any(ord(c) < 0x20 for c in k), repr(k))
    check(any(k.startswith("\u00e9\u00e9") for k in f), f)


# --- item 5: CSRF --------------------------------------------------------

@test
def csrf_empty_or_malformed_tokens_never_match():
    before = trace_count()
    name, csrf, fields, _ = open_form()
    good = {"csrf_token": csrf, "request_token": fields["request_token"],
            "account_id": "acct_10234", "credential_report": STALE}
    cases = [
        (dict(good, csrf_token=""), name + "="),                       # empty both
        (dict(good, csrf_token="x"), name + "=x"),                     # short both
        (dict(good, csrf_token="a b"), name + "=a b"),
        (dict(good, csrf_token="!" * len(csrf)), name + "=" + "!" * len(csrf)),
        (good, name + "=" + csrf + "; " + name + "=" + "B" * len(csrf)),  # repeated
    ]
    for values, cookie in cases:
        r = post_form(values, cookie)
        eq(r.status, 403, repr((values, cookie)))
        check("csrf_failed" in r.text, r.text[:200])
    eq(trace_count(), before)


@test
def csrf_origin_fallback_compares_scheme_host_and_port():
    before = trace_count()
    name, csrf, fields, _ = open_form()
    base = {"request_token": fields["request_token"], "account_id": "acct_10234",
            "credential_report": STALE, "csrf_token": csrf}
    cookie = name + "=" + csrf
    bad = ["http://127.0.0.1:%d" % (PORT + 1), "https://127.0.0.1:%d" % PORT,
           "http://127.0.0.1", "http://localhost:%d" % PORT, "ftp://127.0.0.1:%d" % PORT,
           "http://127.0.0.1:%d/" % PORT, "http://127.0.0.1:%d@evil.example" % PORT,
           "http://127.0.0.1:0%d" % PORT]
    for origin in bad:
        r = post_form(base, cookie, {"Sec-Fetch-Site": None, "Origin": origin})
        eq(r.status, 403, origin)
    eq(trace_count(), before, "no trace for a refused origin")
    r = post_form(base, cookie, {"Sec-Fetch-Site": None,
                                 "Origin": "http://127.0.0.1:%d" % PORT})
    eq(r.status, 303, r.text[:300])


@test
def a_form_post_with_neither_sec_fetch_site_nor_origin_is_judged_on_the_tokens():
    # No browser posts a form without Origin or Sec-Fetch-Site, so such a
    # client is not a browser another site could drive; the cookie and the
    # hidden token are then the whole defence and must still hold.
    name, csrf, fields, _ = open_form()
    values = {"request_token": fields["request_token"], "account_id": "acct_10234",
              "credential_report": STALE, "csrf_token": csrf}
    neither = {"Sec-Fetch-Site": None, "Origin": None}
    before = trace_count()
    _, other, _, _ = open_form()
    for label, cookie, form in (
            ("a cookie of another form", name + "=" + other, values),
            ("no cookie", None, values),
            ("no hidden token", name + "=" + csrf,
             {k: v for k, v in values.items() if k != "csrf_token"})):
        r = post_form(form, cookie, neither)
        eq(r.status, 403, label + ": " + r.text[:200])
        check("csrf_failed" in r.text, r.text[:300])
    eq(trace_count(), before, "no trace for a refused post")
    r = post_form(values, name + "=" + csrf, neither)
    eq(r.status, 303, r.text[:300])
    eq(trace_count(), before + 1, "the matching tokens are taken")


@test
def csrf_cookie_is_host_prefixed_and_secure_behind_https():
    r = get("/", headers={"Accept": "text/html", "X-Forwarded-Proto": "https"})
    eq(r.status, 200)
    cookie = r.headers["set-cookie"]
    check(cookie.startswith("__Host-keyrota_csrf="), cookie)
    check("; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie, cookie)
    csrf = re.search(r"__Host-keyrota_csrf=([A-Za-z0-9_-]+)", cookie).group(1)
    fields = dict(re.findall(r'name="(csrf_token|request_token)" value="([^"]*)"', r.text))
    values = {"csrf_token": csrf, "request_token": fields["request_token"],
              "account_id": "acct_10234", "credential_report": STALE}
    https = {"X-Forwarded-Proto": "https"}
    # Behind HTTPS the unprefixed cookie (settable by a sibling host) is not
    # enough.
    r = post_form(values, "keyrota_csrf=" + csrf, https)
    eq(r.status, 403)
    r = post_form(values, "__Host-keyrota_csrf=" + csrf,
                  dict(https, **{"Sec-Fetch-Site": None,
                                 "Origin": "https://127.0.0.1:%d" % PORT}))
    eq(r.status, 303, r.text[:300])
    # Plain HTTP: no Secure (the browser would drop it), no prefix.
    plain = get("/", headers={"Accept": "text/html"}).headers["set-cookie"]
    check(plain.startswith("keyrota_csrf=") and "Secure" not in plain, plain)


# --- oversized and slow requests ------------------------------------------

@test
def oversized_headers_and_bodies_are_refused_by_nginx():
    before = trace_count()
    status, out = raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 +
                      b"\r\nConnection: close\r\n\r\n")
    check(status in (400, 431, 494), out[:200])
    status, out = raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                      b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 500) for i in range(200)) +
                      b"Connection: close\r\n\r\n")
    check(status in (400, 431, 494), out[:200])
    big = json.dumps({"account_id": "acct_10234", "credential_report": "x" * 17000}).encode()
    r = decide_raw(big)
    eq(r.status, 413)
    eq(r.json()["error_code"], "payload_too_large")
    r = post_form(None, raw_body=b"credential_report=" + b"x" * 17000)
    eq(r.status, 413)
    # Chunked, without a length to refuse up front.
    status, out = raw(b"POST /rotation/decide HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                      b"Connection: close\r\n\r\n" +
                      b"".join(b"1000\r\n" + b"a" * 4096 + b"\r\n" for _ in range(5)) +
                      b"0\r\n\r\n")
    eq(status, 413, out[:200])
    # A body shorter than its Content-Length is never decided.
    status, out = raw(b"POST /rotation/decide HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 5000\r\n"
                      b"Connection: close\r\n\r\n{\"account_id\":", timeout=3)
    check(status == 0 or status < 500, out[:200])
    eq(trace_count(), before)


@test
def slow_bodies_hold_nginx_not_keyrota():
    before = trace_count()
    slow = []
    # More slow clients than keyrota has accept threads (2 workers x 8).
    for _ in range(24):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        s.sendall(b"POST /rotation/decide HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                  b'{"account_id":"acct_10234",')
        slow.append(s)
    try:
        started = time.monotonic()
        r = decide_raw(json.dumps(GOOD).encode())
        eq(r.status, 200, r.text[:200])
        check(time.monotonic() - started < 5, "a decision waited behind slow bodies")
        eq(get("/healthz").status, 200)
        # nginx gives up on them (client_body_timeout): closed, never a 5xx.
        deadline = time.monotonic() + 25
        for s in slow:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                raise AssertionError("nginx kept a slow body open past its timeout")
            except ConnectionResetError:
                pass
            m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
            check(m is None or int(m.group(1)) < 500, data[:200])
    finally:
        for s in slow:
            s.close()
    eq(trace_count(), before + 1, "only the complete request was decided")


# --- invalid bytes, SQL and CR/LF in every field -------------------------

BAD_BYTES = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00", b"\\u0000", b"\r\n", b"\x1b[2J"]


@test
def invalid_utf8_and_nul_in_every_json_field_are_422():
    before = trace_count()
    for field in ("account_id", "credential_report", "item"):
        for bad in BAD_BYTES:
            vals = {"account_id": b"acct_10234", "credential_report": b"a stale key here",
                    "item": b"ci-key"}
            vals[field] = vals[field][:4] + bad + vals[field][4:]
            body = b"{" + b",".join(b'"%s":"%s"' % (k.encode(), v) for k, v in vals.items()) + b"}"
            r = decide_raw(body)
            eq(r.status, 422, repr(body))
            r.body.decode("utf-8")
            # Names the field when the JSON itself could be read.
            if bad not in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00", b"\r\n", b"\x1b[2J"):
                check(field in r.json()["fields"], (body, r.text))
    eq(trace_count(), before)


@test
def invalid_bytes_in_every_form_field_are_refused():
    before = trace_count()
    name, csrf, fields, _ = open_form()
    for field in ("account_id", "credential_report", "item", "csrf_token", "request_token"):
        for bad in ("%ff", "%00", "%c3%28", "%ed%a0%80", "%e2%80%ae", "%1b"):
            vals = {"csrf_token": csrf, "request_token": fields["request_token"],
                    "account_id": "acct_10234", "credential_report": "a stale key here",
                    "item": "ci-key"}
            body = "&".join("%s=%s" % (k, urllib.parse.quote_plus(v) +
                                       (bad if k == field else "")) for k, v in vals.items())
            r = post_form(None, name + "=" + csrf, raw_body=body)
            check(r.status in (403, 422), "%s %s: %d" % (field, bad, r.status))
            r.body.decode("utf-8")
    eq(trace_count(), before)


@test
def sql_injection_strings_change_nothing():
    accounts = trusted_rows()
    before = trace_count()
    valid = 0
    for s in SQLI:
        r = decide_raw(json.dumps({"account_id": s, "credential_report": STALE}).encode())
        eq(r.status, 422, s)
        # As report text and item they are ordinary (odd) text.
        report = ("Stale key; " + s)[:500]
        r = decide_raw(json.dumps({"account_id": "acct_10234", "credential_report": report,
                                   "item": s[:80] if len(s) >= 3 else "k" + s}).encode())
        no_5xx(r, s)
        if r.status == 200:
            valid += 1
            eq(r.json()["status"], "completed")
        r = request("GET", "/rotation/traces/" + urllib.parse.quote(s),
                    headers={"Accept": "application/json"})
        eq(r.status, 404, s)
    eq(trusted_rows(), accounts, "trusted accounts untouched")
    eq(trace_count(), before + valid)
    eq(psql("SELECT count(*) FROM policy_lines WHERE line_id = 'P-7'")[0][0], "1")


def admin_auth():
    with open(os.path.join(VAR, "secrets", "admin.password")) as f:
        pw = f.read().strip()
    return {"Authorization": "Basic " + base64.b64encode(("admin:" + pw).encode()).decode(),
            "Accept": "application/json"}


@test
def hostile_admin_filters_are_422_or_empty_never_5xx():
    before = trace_count()
    accounts = trusted_rows()
    for f in FILTERS:
        for v in SQLI + ["%ff", "%00", "%c3%28", "\u202e", "%0d%0aX-Injected:%201", "a" * 3000]:
            q = "/admin/traces?%s=%s" % (f, v if v.startswith("%") else urllib.parse.quote(v))
            r = request("GET", q, headers=admin_auth())
            check(r.status in (200, 422), "%s: %d %s" % (q, r.status, r.text[:200]))
            check("x-injected" not in r.headers, r.headers)
            r.body.decode("utf-8")
            if r.status == 200:
                eq(r.json()["traces"], [], q)
            r = request("GET", q, headers={"Accept": "application/json"})
            eq(r.status, 401, q)
            check(b"tr_" not in r.body, r.body[:200])
    eq(trusted_rows(), accounts)
    eq(trace_count(), before)


@test
def cr_lf_never_reaches_a_header():
    before = trace_count()
    r = decide_raw(json.dumps(GOOD).encode(),
                   {"Idempotency-Key": "%s%%0d%%0aX-Injected:%%201" % uuid.uuid4().hex})
    no_5xx(r, "percent-encoded CRLF key")
    check("x-injected" not in r.headers, r.headers)
    for key in (b"abc\rX-Injected: 1", b"abc\x00def", b"ab c", b"\xff\xfe"):
        status, out = raw(b"POST /rotation/decide HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nAccept: application/json\r\n"
                          b"Idempotency-Key: " + key + b"\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n" % len(json.dumps(GOOD)) +
                          json.dumps(GOOD).encode())
        check(status in (400, 422), (key, out[:300]))
        check(b"\r\nX-Injected" not in out, out[:300])
    for path in ("/rotation/traces/tr_%0d%0aSet-Cookie:%20x=1",
                 "/%0d%0a%7B%22level%22%3A%22error%22%7D", "/rotation/decide%0d%0a"):
        r = get(path, headers={"Accept": "text/html"})
        check(r.status in (400, 404, 405), (path, r.status))
        check("x=1" not in r.headers.get("set-cookie", ""), r.headers)
    name, csrf, fields, _ = open_form()
    r = post_form(None, name + "=" + csrf,
                  raw_body="csrf_token=%s&request_token=abc%%0d%%0aLocation:%%20//evil&"
                           "account_id=acct_10234&credential_report=a+stale+key+here" % csrf)
    eq(r.status, 403)
    check("evil" not in r.headers.get("location", ""), r.headers)
    eq(trace_count(), before + 1, "only the decision with a valid key")


# --- paths -----------------------------------------------------------------

@test
def static_path_traversal_is_refused():
    for path in ("/static/../README.md", "/static/..%2fREADME.md", "/static/%2e%2e/README.md",
                 "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/static/../../../../etc/passwd",
                 "/static/keyrota.css/../../src/main.c", "/static/..\\README.md",
                 "/static//../src/main.c", "/static/%252e%252e/README.md",
                 "/static/.%2e/.%2e/etc/passwd", "/static/%00../README.md"):
        status, out = raw(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                           % path).encode())
        check(status in (400, 403, 404), "%s: %d" % (path, status))
        check(b"root:x:0" not in out and b"# keyrota" not in out and b"#include" not in out,
              path)
    eq(get("/static/keyrota.css").status, 200)


@test
def encoded_and_doubled_admin_paths_never_leak_without_credentials():
    for path in ("/%61dmin/traces", "//admin/traces", "/admin/../admin/traces", "/ADMIN/traces",
                 "/admin/traces/", "/admin/./traces", "/static/../admin/traces",
                 "/%2561dmin/traces", "/admin%2ftraces", "/Admin/traces", "/admin/traces%00",
                 "/admin/traces;x", "/admin/evals", "/%2F%61dmin/traces", "///admin//traces"):
        for accept in ("application/json", "text/html"):
            status, out = raw(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\n"
                               "Authorization: Basic %s\r\nConnection: close\r\n\r\n"
                               % (path, accept, base64.b64encode(b"admin:wrong").decode()))
                              .encode())
            check(status in (400, 401, 404), "%s: %d" % (path, status))
            check(b"tr_" not in out and b'"traces"' not in out, (path, out[:300]))
    # A user nginx never checked (any Authorization header elsewhere) is no admin.
    r = get("/admin/traces", headers={"Accept": "application/json",
                                      "Authorization": "Basic " +
                                      base64.b64encode(b"admin:").decode()})
    eq(r.status, 401)


@test
def method_override_headers_are_ignored():
    before = trace_count()
    over = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")
    for h in over:
        r = request("GET", "/admin/traces", headers={h: "POST", "Accept": "application/json"})
        eq(r.status, 401, h)
        r = request("POST", "/admin/traces", body=b"", headers={h: "GET",
                                                               "Accept": "application/json"})
        check(r.status in (401, 405), (h, r.status))
        check(b"tr_" not in r.body, r.body[:200])
        r = request("GET", "/", headers={h: "POST", "Accept": "text/html"})
        eq(r.status, 200, h)
        r = request("GET", "/rotation/decide", headers={h: "POST", "Accept": "application/json"})
        eq(r.status, 405, h)
        r = request("DELETE", "/rotation/decide", body=json.dumps(GOOD).encode(),
                    headers=dict(JSON_H, **{h: "POST"}))
        check(r.status in (405,), (h, r.status))
    eq(trace_count(), before, "no override started a decision")


# --- last: the log -----------------------------------------------------------

@test
def zz_log_stays_one_json_object_per_line():
    path = os.path.join(VAR, "log", "keyrota.log")
    n = 0
    with open(path, "rb") as f:
        for line in f:
            n += 1
            obj = json.loads(line.decode("utf-8"))
            check(isinstance(obj, dict), line[:200])
            check(b"\r" not in line.rstrip(b"\n"), line[:200])
    check(n > 0, "empty log")

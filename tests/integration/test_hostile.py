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

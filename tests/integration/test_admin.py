"""Admin trace lookup and /metrics, through nginx."""
import base64
import json
import os
import random
import re
import signal
import urllib.parse

from harness import (VAR, check, eq, fcgi_get, get, psql, request, test, wait_for,
                     worker_pids)

STALE = "The CI deploy key of this service account is stale."


def password():
    with open(os.path.join(VAR, "secrets", "admin.password")) as f:
        return f.read().strip()


def auth(user="admin", pw=None):
    token = base64.b64encode(("%s:%s" % (user, pw if pw is not None else password())).encode())
    return {"Authorization": "Basic " + token.decode()}


def admin(path, json_=True, **params):
    q = ("?" + urllib.parse.urlencode(params)) if params else ""
    headers = auth()
    if json_:
        headers["Accept"] = "application/json"
    return get(path + q, headers=headers)


def fresh_account():
    """An account id no trace names yet: the stack's database outlives a
    run (the ASan pass reuses it), so a random one alone could collide."""
    while True:
        acct = "acct_9%04d" % random.randrange(10000)
        if psql("SELECT count(*) FROM traces WHERE account_id = :'p1'", acct)[0][0] == "0":
            return acct


def insert_traces(account, n, status="completed", error=None, minutes_ago=60, step_s=1):
    """n traces for account, created minutes_ago back, step_s seconds apart."""
    outcome = {
        "completed": "'completed', 'eligible', 30, '{P-7}', NULL, now(), 5",
        "failed": "'failed', NULL, NULL, NULL, %s, now(), 5" % ("'%s'" % (error or "provider_timeout")),
        "running": "'running', NULL, NULL, NULL, NULL, NULL, NULL",
    }[status]
    psql("INSERT INTO traces (trace_id, account_id, status, decision, rotation_window_days,"
         " source_line_ids, error_code, finished_at, latency_ms, prompt_version, provider,"
         " request_model, input_fingerprint, fingerprint_key_id, created_at)"
         " SELECT 'tr_' || substr(md5(random()::text || g), 1, 22), :'p1', " + outcome + ","
         " 'rotation_decision@2', 'fixture', 'm', 'abcdef012345', 'fk_test',"
         " now() - make_interval(mins => :'p2'::int) - make_interval(secs => g * :'p3'::int)"
         " FROM generate_series(1, :'p4'::int) g", account, str(minutes_ago), str(step_s), str(n))


@test
def admin_needs_the_right_password():
    eq(get("/admin/traces").status, 401, "no credentials")
    eq(get("/admin/traces", headers=auth(pw="wrong")).status, 401, "wrong password")
    eq(get("/admin/traces", headers=auth(user="root")).status, 401, "wrong user")
    r = get("/admin/traces", headers=auth())
    eq(r.status, 200)
    eq(r.headers.get("cache-control"), "no-store")
    check("default-src 'self'" in r.headers.get("content-security-policy", ""), r.headers)
    r = get("/admin/traces/" + "tr_" + "A" * 22, headers=auth(pw="wrong"))
    eq(r.status, 401)


@test
def a_spoofed_authorization_header_never_makes_an_admin():
    sock = os.path.join(VAR, "run", "keyrota.sock")
    token = auth()["Authorization"]
    # The operator's own, correct credentials, sent straight to keyrota as a
    # header and as the parameters Debian's fastcgi_params derives from it:
    # only nginx's admin location (KEYROTA_AUTH_USER) vouches for a user.
    out = fcgi_get(sock, "/admin/traces", {"HTTP_AUTHORIZATION": token, "REMOTE_USER": "admin",
                                           "AUTH_TYPE": "Basic"})
    check(out.startswith(b"Status: 401"), out[:100])
    # Through nginx with a wrong password, plus headers named like the
    # trusted parameter: they arrive as HTTP_*, never as KEYROTA_AUTH_USER.
    spoof = dict(auth(pw="wrong"), **{"Keyrota-Auth-User": "admin", "Remote-User": "admin",
                                      "Accept": "application/json"})
    for path in ("/admin/traces", "/admin/evals", "/admin/traces.csv"):
        eq(get(path, headers=spoof).status, 401, path)
    # The correct credentials on the other locations change nothing there.
    plain = get("/metrics")
    with_auth = get("/metrics", headers={"Authorization": token})
    eq(with_auth.status, plain.status)
    eq(get("/admin/traces", headers=auth()).status, 200, "the real login still works")


@test
def keyrota_refuses_admin_without_the_user_nginx_authenticated():
    out = fcgi_get(os.path.join(VAR, "run", "keyrota.sock"), "/admin/traces")
    check(out.startswith(b"Status: 401"), out[:100])
    # REMOTE_USER comes from any Authorization header on any location
    # (Debian's fastcgi_params): it is not trusted.
    out = fcgi_get(os.path.join(VAR, "run", "keyrota.sock"), "/admin/traces",
                   {"REMOTE_USER": "admin"})
    check(out.startswith(b"Status: 401"), out[:100])
    # Only the admin location's parameter counts, and only for the admin user.
    out = fcgi_get(os.path.join(VAR, "run", "keyrota.sock"), "/admin/traces",
                   {"KEYROTA_AUTH_USER": "root"})
    check(out.startswith(b"Status: 401"), out[:100])
    out = fcgi_get(os.path.join(VAR, "run", "keyrota.sock"), "/admin/traces",
                   {"KEYROTA_AUTH_USER": "admin"})
    check(out.startswith(b"Status: 200"), out[:100])


@test
def each_filter_and_combinations():
    acct = fresh_account()
    insert_traces(acct, 3, "completed")
    insert_traces(acct, 2, "failed", "provider_timeout")
    insert_traces(acct, 1, "failed", "invalid_decision")
    insert_traces(acct, 1, "running", minutes_ago=0)
    body = admin("/admin/traces", account_id=acct).json()
    eq(len(body["traces"]), 7)
    eq(body["counts"], {"running": "1", "completed": "3", "failed": "3"})
    times = [t["created_at"] for t in body["traces"]]
    eq(times, sorted(times, reverse=True), "newest first")
    eq(len(admin("/admin/traces", account_id=acct, status="failed").json()["traces"]), 3)
    eq(len(admin("/admin/traces", account_id=acct, error_code="provider_timeout")
           .json()["traces"]), 2)
    got = admin("/admin/traces", account_id=acct, status="failed",
                error_code="invalid_decision").json()["traces"]
    eq([t["error.type"] for t in got], ["invalid_decision"])
    one = body["traces"][4]["trace_id"]
    eq([t["trace_id"] for t in admin("/admin/traces", trace_id=one).json()["traces"]], [one])
    # Time range: the running trace is recent, the others an hour old.
    recent = admin("/admin/traces", account_id=acct,
                   **{"from": _utc_minutes_ago(5)}).json()["traces"]
    eq([t["status"] for t in recent], ["running"])
    old = admin("/admin/traces", account_id=acct, to=_utc_minutes_ago(5)).json()["traces"]
    eq(len(old), 6)
    # The HTML page shows the same rows.
    page = admin("/admin/traces", json_=False, account_id=acct)
    eq(page.text.count('href="/admin/traces/tr_'), 7)
    check("<strong>3</strong> completed" in page.text, "counts shown")


def _utc_minutes_ago(m):
    return psql("SELECT to_char((now() - make_interval(mins => :'p1'::int)) AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI')", str(m))[0][0]


@test
def bad_filters_are_422_and_echoed_escaped():
    for params, field in (({"account_id": "<script>alert(1)</script>"}, "account_id"),
                          ({"status": "done"}, "status"),
                          ({"error_code": "csrf_failed"}, "error_code"),
                          ({"from": "yesterday"}, "from"),
                          ({"to": "2026-13-01"}, "to"),
                          ({"trace_id": "tr_x"}, "trace_id"),
                          ({"after": "garbage|tr_x"}, "after")):
        r = admin("/admin/traces", **params)
        eq(r.status, 422, repr(params))
        check(field in r.json()["fields"], r.text)
    r = admin("/admin/traces", json_=False, account_id='"><script>alert(1)</script>')
    eq(r.status, 422)
    check("<script>alert(1)" not in r.text, "echo not escaped")
    check("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, "input echoed escaped")
    eq(admin("/admin/traces", **{"from": "2026-02-30"}).status, 422, "a date that does not exist")


@test
def keyset_pagination_is_stable_while_traces_arrive():
    acct = fresh_account()
    insert_traces(acct, 120, "completed", minutes_ago=30)
    original = {t[0] for t in psql("SELECT trace_id FROM traces WHERE account_id = :'p1'", acct)}
    seen = []
    body = admin("/admin/traces", account_id=acct).json()
    pages = 0
    while True:
        pages += 1
        seen += [t["trace_id"] for t in body["traces"]]
        eq(len(body["traces"]) <= 50, True)
        # New traces arrive between pages; they are newer than any cursor.
        insert_traces(acct, 7, "completed", minutes_ago=0)
        if not body["next"]:
            break
        body = admin("/admin/traces", account_id=acct, after=body["next"]).json()
    eq(pages, 3, "120 traces are three pages of 50")
    eq(len(seen), len(set(seen)), "no duplicates")
    eq(set(seen), original, "no misses")
    # The HTML pager links to the next page with the filters kept.
    page = admin("/admin/traces", json_=False, account_id=acct)
    link = re.search(r'href="(/admin/traces\?[^"]+)" id="next-page"', page.text)
    check(link and ("account_id=" + acct) in link.group(1).replace("&amp;", "&"), "next link")


@test
def pagination_across_traces_created_at_the_same_instant():
    # 120 traces with one created_at: only the trace id orders them, and
    # the cursor must carry it, or a page boundary drops or repeats rows.
    acct = fresh_account()
    insert_traces(acct, 120, "completed", minutes_ago=20, step_s=0)
    rows = psql("SELECT count(DISTINCT created_at), count(*) FROM traces WHERE account_id = :'p1'",
                acct)
    eq(rows, [["1", "120"]], "one instant")
    original = {t[0] for t in psql("SELECT trace_id FROM traces WHERE account_id = :'p1'", acct)}
    seen, body, pages = [], admin("/admin/traces", account_id=acct).json(), 1
    seen += [t["trace_id"] for t in body["traces"]]
    while body["next"]:
        body = admin("/admin/traces", account_id=acct, after=body["next"]).json()
        seen += [t["trace_id"] for t in body["traces"]]
        pages += 1
        check(pages <= 4, "pagination does not end")
    eq(pages, 3, "three pages of 50")
    eq(len(seen), len(set(seen)), "no duplicates")
    eq(set(seen), original, "no misses")


@test
def counts_past_ten_thousand_show_as_10000_plus():
    acct = fresh_account()
    try:
        counted_past_the_cap(acct)
    finally:
        psql("DELETE FROM traces WHERE account_id = :'p1'", acct)


def counted_past_the_cap(acct):
    insert_traces(acct, 10001, "failed", error="provider_timeout", minutes_ago=40, step_s=0)
    insert_traces(acct, 3, "completed", minutes_ago=40)
    counts = admin("/admin/traces", account_id=acct).json()["counts"]
    eq(counts, {"running": "0", "completed": "3", "failed": "10000+"})
    # Exactly the cap is still a number.
    psql("DELETE FROM traces WHERE trace_id = (SELECT trace_id FROM traces WHERE account_id = "
         ":'p1' AND status = 'failed' LIMIT 1)", acct)
    eq(admin("/admin/traces", account_id=acct).json()["counts"]["failed"], "10000")
    page = admin("/admin/traces", json_=False, account_id=acct, status="failed")
    check("10000" in page.text, "the HTML count")
    insert_traces(acct, 1, "failed", error="provider_timeout", minutes_ago=40)
    page = admin("/admin/traces", json_=False, account_id=acct, status="failed")
    check("10000+" in page.text, "the HTML shows 10000+")


@test
def detail_shows_every_field():
    r = request("POST", "/rotation/decide", body=json.dumps(
        {"account_id": "acct_10235", "credential_report": STALE}).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": "adm-" + os.urandom(6).hex()})
    tid = r.json()["trace_id"]
    d = admin("/admin/traces/" + tid).json()
    for k in ("trace_id", "account_id", "status", "decision", "rotation_window_days",
              "source_line_ids", "model_decision", "error.type", "gen_ai.provider.name",
              "gen_ai.operation.name", "gen_ai.output.type", "gen_ai.prompt.name",
              "gen_ai.prompt.version", "server.address", "server.port", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens",
              "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons", "provider_attempts",
              "latency_ms", "created_at", "finished_at", "idempotency_key", "input_fingerprint",
              "fingerprint_key_id", "prompt_version"):
        check(k in d, "detail lacks " + k)
    eq((d["status"], d["error.type"], d["model_decision"]), ("failed", "policy_conflict", "eligible"))
    # Current OpenTelemetry GenAI names (docs/telemetry.md): the fixture
    # is named as such, calls no server and sends no request parameters.
    eq((d["gen_ai.provider.name"], d["gen_ai.operation.name"], d["gen_ai.output.type"],
        d["gen_ai.prompt.name"], d["gen_ai.prompt.version"], d["server.address"],
        d["gen_ai.request.max_tokens"]),
       ("keyrota.fixture", "chat", "json", "rotation_decision", "2", None, None))
    check("gen_ai.system" not in d, "the deprecated gen_ai.system is gone")
    eq(d["otel.parent_span_id"], None)
    check(d["idempotency_key"].startswith("adm-"), d)
    page = admin("/admin/traces/" + tid, json_=False)
    eq(page.status, 200)
    for needle in (tid, "policy_conflict", "rotation_decision@2", d["input_fingerprint"],
                   "the report text is never stored"):
        check(needle in page.text, "detail page lacks " + needle)
    eq(admin("/admin/traces/tr_" + "B" * 22).status, 404)


def metric(text, name, absent=None, **labels):
    """The value of one series; a series that is not there fails the test
    unless absent gives the value it stands for (a counter not yet used)."""
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    for line in text.splitlines():
        if line.startswith(name + ("{" + want + "}" if labels else " ")) or \
                (labels and line.startswith(name + "{") and all(
                    '%s="%s"' % kv in line for kv in labels.items())):
            return float(line.rsplit(" ", 1)[1])
    if absent is not None:
        return absent
    raise AssertionError("no series %s{%s} in /metrics" % (name, want))


@test
def metrics_count_known_traffic():
    before = get("/metrics").text
    for acct in ("acct_10234", "acct_10234", "acct_10235"):
        eq(request("POST", "/rotation/decide", body=json.dumps(
            {"account_id": acct, "credential_report": STALE}).encode(),
            headers={"Content-Type": "application/json"}).status, 200)
    eq(get("/nope").status, 404)
    after = get("/metrics")
    eq(after.status, 200)
    check(after.headers["content-type"].startswith("text/plain; version=0.0.4"), after.headers)
    a, b = after.text, before
    # Before, a counter not yet used may be absent (0); after, it must be there.
    eq(metric(a, "keyrota_decisions_total", outcome="eligible", error_type="none") -
       metric(b, "keyrota_decisions_total", 0, outcome="eligible", error_type="none"), 2)
    eq(metric(a, "keyrota_decisions_total", outcome="failed", error_type="policy_conflict") -
       metric(b, "keyrota_decisions_total", 0, outcome="failed", error_type="policy_conflict"), 1)
    eq(metric(a, "keyrota_http_requests_total", route="/rotation/decide", method="POST",
              code="200") -
       metric(b, "keyrota_http_requests_total", 0, route="/rotation/decide", method="POST",
              code="200"), 3)
    eq(metric(a, "keyrota_http_requests_total", route="unmatched", method="GET", code="404") -
       metric(b, "keyrota_http_requests_total", 0, route="unmatched", method="GET",
              code="404"), 1)
    eq(metric(a, "keyrota_provider_attempts_total", error_type="none") -
       metric(b, "keyrota_provider_attempts_total", 0, error_type="none"), 3)
    eq(metric(a, "keyrota_decisions_in_flight"), 0)


@test
def metrics_count_worker_restarts_across_processes():
    before = metric(get("/metrics").text, "keyrota_worker_restarts_total")
    victim = worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    check(wait_for(lambda: victim not in worker_pids() and len(worker_pids()) >= 2, timeout=5),
          "worker %d was not replaced" % victim)
    after = metric(get("/metrics").text, "keyrota_worker_restarts_total")
    eq(after - before, 1)


@test
def metrics_are_loopback_only_in_nginx():
    # From 127.0.0.2 (still this host, but not the loopback address nginx
    # allows) /metrics is refused, while other pages answer.
    import http.client
    from harness import PORT
    answers = {}
    for path in ("/metrics", "/healthz"):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10,
                                          source_address=("127.0.0.2", 0))
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            answers[path] = (r.status, r.read())
        finally:
            conn.close()
    eq(answers["/metrics"][0], 403, answers["/metrics"][1][:200])
    check(b"keyrota_" not in answers["/metrics"][1], "metrics leaked")
    eq(answers["/healthz"][0], 200, "the same client reaches other pages")
    eq(get("/metrics").status, 200, "from 127.0.0.1")

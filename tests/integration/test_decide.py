"""Rotation decisions through nginx against the real PostgreSQL, with the
fixture provider (tests of the OpenAI-compatible provider use a fake model
server and live in test_provider_openai.py)."""
import concurrent.futures
import json
import os
import threading
import time
import uuid

from harness import (VAR, check, eq, get, get_json, psql, request, restart_keyrota,
                     db_now, running_traces, stack, test, wait_for)
from harness import trace_row

STALE = "The CI deploy key for this service account is stale."


def decide(body, headers=None, timeout=30):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    h.update(headers or {})
    return request("POST", "/rotation/decide", body=json.dumps(body).encode(), headers=h,
                   timeout=timeout)


def provider_calls():
    """Model calls keyrota made, all workers together (/metrics): the
    attempts of every error type."""
    lines = [line for line in get("/metrics").text.splitlines()
             if line.startswith("keyrota_provider_attempts_total{")]
    check(lines, "no keyrota_provider_attempts_total in /metrics")
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines)


def trace_count():
    return int(psql("SELECT count(*) FROM traces")[0][0])


def six_fields(body):
    eq(sorted(body), sorted(["trace_id", "status", "decision", "source_line_ids",
                             "error_code", "error"]), "response fields")


@test
def eligible_for_a_12_day_old_key():
    r = decide({"account_id": "acct_10234", "credential_report": STALE})
    eq(r.status, 200, r.text)
    body = r.json()
    six_fields(body)
    eq(body["status"], "completed")
    eq(body["decision"], "eligible")
    eq(body["source_line_ids"], ["P-7"])
    eq(body["error_code"], None)
    check(body["trace_id"].startswith("tr_") and len(body["trace_id"]) == 25, body["trace_id"])


@test
def eligible_at_exactly_the_30_day_window():
    body = decide({"account_id": "acct_10236", "credential_report": STALE}).json()
    eq((body["status"], body["decision"]), ("completed", "eligible"))


@test
def policy_conflict_when_the_model_says_eligible_for_45_days():
    r = decide({"account_id": "acct_10235", "credential_report": STALE})
    eq(r.status, 200)
    body = r.json()
    six_fields(body)
    eq(body["status"], "failed")
    eq(body["decision"], None)
    eq(body["error_code"], "policy_conflict")
    eq(body["error"], "Decision unavailable; retry safely.")
    stored = trace_row(body["trace_id"])
    eq(stored["model_decision"], "eligible", "what the model said is kept")
    eq(stored["decision"], None, "but no decision is recorded")


@test
def not_eligible_and_needs_review_follow_the_report():
    body = decide({"account_id": "acct_10234",
                   "credential_report": "This key was already rotated yesterday."}).json()
    eq((body["status"], body["decision"]), ("completed", "not_eligible"))
    body = decide({"account_id": "acct_10234",
                   "credential_report": "Something looks odd about this key."}).json()
    eq((body["status"], body["decision"]), ("completed", "needs_review"))


@test
def unknown_account_fails_without_a_provider_call():
    body = decide({"account_id": "acct_99999", "credential_report": STALE}).json()
    eq((body["status"], body["error_code"]), ("failed", "unknown_account"))
    stored = trace_row(body["trace_id"])
    eq(stored["provider_attempts"], 0, "no provider call")
    eq(stored["response_model"], None)


@test
def invalid_reports_get_422_per_field_and_no_trace():
    before = trace_count()
    cases = [
        ({"account_id": "acct_1", "credential_report": STALE}, ["account_id"]),
        ({"account_id": "acct_10234", "credential_report": "too short"}, ["credential_report"]),
        ({"account_id": "acct_10234", "credential_report": "x" * 501}, ["credential_report"]),
        ({"account_id": "acct_10234", "credential_report": STALE, "item": "ab"}, ["item"]),
        ({"account_id": "acct_10234", "credential_report": STALE, "decision": "eligible"},
         ["decision"]),
        ({"credential_report": 42}, ["account_id", "credential_report"]),
        ({"account_id": "acct_10234", "credential_report": "bell \u0007 in the report"},
         ["credential_report"]),
    ]
    for body, fields in cases:
        r = decide(body)
        eq(r.status, 422, json.dumps(body))
        got = r.json()
        eq(got["error_code"], "invalid_request")
        eq(sorted(got["fields"]), sorted(fields), json.dumps(body))
    for raw in (b"not json", b"[1,2]", b'{"account_id":"acct_10234",'):
        r = request("POST", "/rotation/decide", body=raw,
                    headers={"Content-Type": "application/json"})
        eq(r.status, 422)
        check("body" in r.json()["fields"], r.text)
    eq(trace_count(), before, "no trace for a rejected report")


@test
def unsupported_media_type_is_415():
    r = request("POST", "/rotation/decide", body=b"account_id=acct_10234",
                headers={"Content-Type": "text/plain", "Accept": "application/json"})
    eq(r.status, 415)
    eq(r.json()["error_code"], "unsupported_media_type")


@test
def database_down_is_503_with_no_trace_and_no_decision():
    before = trace_count()
    stack("pg-stop")
    try:
        r = decide({"account_id": "acct_10234", "credential_report": STALE})
        eq(r.status, 503)
        eq(r.json()["error_code"], "database_unavailable")
    finally:
        stack("pg-start")
    wait_for(lambda: get("/readyz").status == 200, timeout=10)
    eq(trace_count(), before, "no trace written")


@test
def idempotent_replay_and_conflict():
    key = "test-" + uuid.uuid4().hex
    body = {"account_id": "acct_10234", "credential_report": STALE}
    calls_before = provider_calls()
    first = decide(body, {"Idempotency-Key": key})
    eq(first.status, 200)
    before = trace_count()
    again = decide(body, {"Idempotency-Key": key})
    eq(again.status, 200)
    eq(again.json(), first.json(), "the first trace, unchanged")
    eq(trace_count(), before, "no second trace")
    # Counted by keyrota across every worker, not read back from the trace.
    eq(provider_calls() - calls_before, 1, "one provider call in all")
    other = decide({"account_id": "acct_10234", "credential_report": STALE + " Again."},
                   {"Idempotency-Key": key})
    eq(other.status, 409)
    eq(other.json()["error_code"], "idempotency_conflict")
    eq(trace_count(), before)
    bad = decide(body, {"Idempotency-Key": "x" * 129})
    eq(bad.status, 422)
    check("Idempotency-Key" in bad.json()["fields"], bad.text)


@test
def two_hundred_concurrent_requests_all_terminal():
    marker = uuid.uuid4().hex[:8]

    def one(i):
        return decide({"account_id": "acct_10234",
                       "credential_report": "%s stale key number %d" % (marker, i)})

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(one, range(200)))
    eq([r.status for r in responses], [200] * 200, "all answered")
    ids = {r.json()["trace_id"] for r in responses}
    eq(len(ids), 200, "distinct trace ids")
    rows = psql("SELECT status, count(*) FROM traces WHERE trace_id = ANY(string_to_array(:'p1', ','))"
                " GROUP BY status", ",".join(ids))
    eq(dict((s, int(n)) for s, n in rows), {"completed": 200}, "none left running")


@test
def stored_trace_holds_fingerprint_and_never_the_report_text():
    marker = "report-marker-" + uuid.uuid4().hex
    body = decide({"account_id": "acct_10234", "credential_report": STALE + " " + marker,
                   "item": "item-" + marker[-12:]}).json()
    stored = trace_row(body["trace_id"])
    check(len(stored["input_fingerprint"]) == 12 and
          all(c in "0123456789abcdef" for c in stored["input_fingerprint"]), stored)
    check(stored["fingerprint_key_id"].startswith("fk_"), stored)
    eq(stored["prompt_version"], "rotation_decision@2")
    eq(stored["provider"], "fixture")
    eq(stored["request_model"], "keyrota-fixture-1")
    eq(stored["provider_attempts"], 1)
    check(stored["latency_ms"] is not None and stored["latency_ms"] >= 0, stored)
    check(stored["created_at"] and stored["finished_at"], stored)
    # No column of any table holds the report text or the item.
    tables = [t for (t,) in psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        hits = psql("SELECT count(*) FROM %s t WHERE t::text LIKE '%%' || :'p1' || '%%'" % table,
                    marker[-12:])
        eq(hits[0][0], "0", "report text found in table " + table)
    with open(os.path.join(VAR, "log", "keyrota.log")) as f:
        check(marker[-12:] not in f.read(), "report text in the log")
    # The same report under the same key gets the same fingerprint.
    again = trace_row(decide({"account_id": "acct_10236",
                        "credential_report": STALE + " " + marker}).json()["trace_id"])
    eq(again["input_fingerprint"], stored["input_fingerprint"])


@test
def trace_lookup_as_json():
    body = decide({"account_id": "acct_10234", "credential_report": STALE}).json()
    r = get_json("/rotation/traces/" + body["trace_id"])
    eq(r.status, 200)
    got = r.json()
    for k in ("trace_id", "status", "decision", "source_line_ids", "error_code", "error"):
        eq(got[k], body[k], k)
    check(got["created_at"].endswith("Z") and got["finished_at"].endswith("Z"), got)
    eq(r.headers.get("cache-control"), "no-store")
    eq(get_json("/rotation/traces/tr_AAAAAAAAAAAAAAAAAAAAAA").status, 404)
    eq(get_json("/rotation/traces/not-a-trace-id").status, 404)
    eq(get_json("/rotation/traces/tr_%27%20OR%201=1--").status, 404)


@test
def reaper_fails_traces_left_running():
    restart_keyrota(KEYROTA_REAPER_INTERVAL_MS=200, KEYROTA_REAPER_GRACE_MS=0,
                    KEYROTA_MODEL_TIMEOUT_MS=1000)
    try:
        tid = "tr_reaper" + uuid.uuid4().hex[:16]
        psql("INSERT INTO traces (trace_id, account_id, prompt_version, provider, request_model,"
             " input_fingerprint, fingerprint_key_id, created_at)"
             " VALUES (:'p1', 'acct_10234', 'rotation_decision@2', 'fixture', 'm',"
             " 'abcdef012345', 'fk_test', now() - interval '10 seconds')", tid)
        done = wait_for(lambda: trace_row(tid)["status"] != "running", timeout=5)
        check(done, "still running")
        stored = trace_row(tid)
        eq((stored["status"], stored["error_code"]), ("failed", "worker_lost"))
    finally:
        restart_keyrota()


@test
def slow_decisions_are_parked_not_holding_threads():
    # One process with two accept threads; each decision waits 1 s for the
    # (simulated) model. Forty at once finish together, not forty seconds.
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=1000, KEYROTA_WORKERS=1, KEYROTA_THREADS=2,
                    KEYROTA_DB_POOL_SIZE=2)
    try:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
            responses = list(pool.map(
                lambda i: decide({"account_id": "acct_10234",
                                  "credential_report": STALE + " #%d" % i}), range(40)))
        elapsed = time.monotonic() - started
        eq([r.json()["status"] for r in responses], ["completed"] * 40)
        check(elapsed < 15, "40 parked decisions took %.1fs (serial would be 20s)" % elapsed)
    finally:
        restart_keyrota()


@test
def sigterm_lets_a_decision_in_flight_finish():
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=1500)
    result = {}

    def slow():
        result["r"] = decide({"account_id": "acct_10234", "credential_report": STALE})

    since = db_now()
    t = threading.Thread(target=slow)
    t.start()
    try:
        check(wait_for(lambda: running_traces(since), timeout=5), "the decision never started")
        stack("keyrota-stop")
        t.join(timeout=20)
        r = result.get("r")
        check(r is not None, "no answer")
        eq(r.status, 200, r.text)
        eq(r.json()["status"], "completed")
    finally:
        restart_keyrota()


@test
def a_repeat_while_running_is_202_with_retry_after_then_the_trace():
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=1500)
    try:
        key = {"Idempotency-Key": "running-" + uuid.uuid4().hex}
        body = {"account_id": "acct_10234", "credential_report": STALE + " (repeat test)"}
        result = {}
        since = db_now()
        t = threading.Thread(target=lambda: result.update(r=decide(body, key)))
        t.start()
        try:
            running = wait_for(lambda: running_traces(since), timeout=5)
            check(running, "the first request never started running")
            again = decide(body, key)
            eq(again.status, 202, again.text)
            eq(again.headers.get("retry-after"), "1")
            eq((again.json()["trace_id"], again.json()["status"]), (running[0], "running"))
        finally:
            t.join(timeout=20)
        first = result["r"]
        eq((first.status, first.json()["status"]), (200, "completed"), first.text)
        eq(first.json()["trace_id"], running[0])
        # Repeated once terminal: the same trace, 200, no new one.
        after = decide(body, key)
        eq((after.status, after.json()), (200, first.json()))
    finally:
        restart_keyrota()

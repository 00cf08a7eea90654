"""The native Anthropic provider (KEYROTA_PROVIDER=anthropic), through
nginx, against the fake model server of tests/fake_model speaking
Anthropic's Messages API on /v1/messages (started here on a free
127.0.0.1 port): the request shape and headers, the fault matrix (the same
as the OpenAI provider's, in Anthropic's error shapes), and
provider-check."""
import base64
import json
import os
import subprocess
import time
import uuid

from harness import (BINARY, VAR, check, database_url, eq, get, psql, request,
                     restart_keyrota, start_fake_model, stop_fake_model, test, write_secret)
from harness import fake_model_control, fake_model_scenario, trace_row

MODEL_KEY = "sk-ant-test-" + uuid.uuid4().hex
HEADER_SECRET = "gw-secret-" + uuid.uuid4().hex
TIMEOUT_MS = 2500
STALE = "The CI deploy key for this service account is stale."
fake = {}

# scenario -> (HTTP status the fake answers, trace error code or
# "completed", provider attempts). KEYROTA_MODEL_MAX_ATTEMPTS is 2.
FAULT_MATRIX = [
    ("slow", "none within 2.5 s", "provider_timeout", 1),
    ("unauthorized", "401 authentication_error", "provider_auth", 1),
    ("anthropic_forbidden", "403 permission_error", "provider_auth", 1),
    ("rate_limit_then_success", "429 rate_limit_error, retry-after: 1; then 200",
     "completed", 2),
    ("rate_limit_long_wait", "429 rate_limit_error, retry-after: 120", "provider_rate_limited", 1),
    ("anthropic_spend_limit", "429 rate_limit_error, enforced_spend_limit_reached",
     "provider_rate_limited", 1),
    ("anthropic_spend_limit_words", "429 rate_limit_error, \"spend limit\" in the message",
     "provider_rate_limited", 1),
    ("anthropic_workspace_spend_limit", "400 invalid_request_error, spend limit",
     "provider_rate_limited", 1),
    ("anthropic_credit_balance", "400 invalid_request_error, credit balance too low",
     "provider_rate_limited", 1),
    ("anthropic_billing", "402 billing_error", "provider_rate_limited", 1),
    ("error500", "500 api_error", "provider_unavailable", 2),
    ("anthropic_overloaded", "529 overloaded_error", "provider_unavailable", 2),
    ("anthropic_overloaded_then_success", "529 overloaded_error; then 200", "completed", 2),
    ("anthropic_error_in_200", "200 with an overloaded_error body", "provider_unavailable", 2),
    ("bad_request", "400 invalid_request_error", "provider_unavailable", 1),
    ("reset_mid_body", "200, connection reset mid-body", "provider_unavailable", 2),
    ("anthropic_malformed", "200, body cut short", "invalid_decision", 1),
    ("prose", "200, end_turn, prose instead of JSON", "invalid_decision", 1),
    ("refusal", "200, stop_reason refusal", "invalid_decision", 1),
    ("length", "200, stop_reason max_tokens (cut answer)", "invalid_decision", 1),
    ("anthropic_two_blocks", "200, two text blocks", "invalid_decision", 1),
    ("anthropic_tool_use", "200, a tool_use block instead of text", "invalid_decision", 1),
]


def control(path, obj=None):
    return fake_model_control(fake, path, obj)


def scenario(name, **options):
    fake_model_scenario(fake, name, **options)


def calls():
    return control("/__requests")


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def keyrota_env(**extra):
    env = dict(KEYROTA_PROVIDER="anthropic",
               KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % fake["port"],
               KEYROTA_MODEL_KEY_FILE=fake["key_file"], KEYROTA_MODEL="claude-test",
               KEYROTA_MODEL_TIMEOUT_MS=TIMEOUT_MS, KEYROTA_MODEL_MAX_ATTEMPTS=2,
               KEYROTA_MODEL_HEADERS_FILE=fake["headers_file"])
    env.update(extra)
    return env


def setup_module():
    fake.update(start_fake_model("anthropic", MODEL_KEY))
    fake["headers_file"] = os.path.join(VAR, "secrets", "model-anthropic.headers")
    write_secret(fake["headers_file"], "# a gateway's tenant header\n"
                 "X-Gateway-Tenant: %s\n" % HEADER_SECRET)
    restart_keyrota(**keyrota_env())


def teardown_module():
    restart_keyrota()
    stop_fake_model(fake)


def decide(account="acct_10234", report=STALE):
    started = time.monotonic()
    r = request("POST", "/rotation/decide",
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                body=json.dumps({"account_id": account, "credential_report": report}).encode())
    r.elapsed = time.monotonic() - started
    return r


def without_keyrota_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}


@test
def messages_request_has_system_max_tokens_schema_and_anthropic_headers():
    scenario("success")
    body = decide().json()
    eq((body["status"], body["decision"], body["source_line_ids"]),
       ("completed", "eligible", ["P-7"]))
    reqs = calls()
    eq(len(reqs), 1, "one call")
    eq(reqs[0]["path"], "/v1/messages")
    headers = lower(reqs[0]["headers"])
    eq(headers.get("x-api-key"), MODEL_KEY)
    eq(headers.get("anthropic-version"), "2023-06-01")
    check("authorization" not in headers, "an Authorization header was sent: %r" % headers)
    eq(headers.get("x-gateway-tenant"), HEADER_SECRET, "the headers file's header")
    eq(headers.get("content-type"), "application/json")
    sent = reqs[0]["body"]
    eq(sent["model"], "claude-test")
    check(0 < sent["max_tokens"] <= 1000, sent)
    eq(sent["temperature"], 0)
    check("P-7" in sent["system"] or "policy" in sent["system"].lower(), sent["system"][:200])
    eq([m["role"] for m in sent["messages"]], ["user"], "system is top-level, not a message")
    user = sent["messages"][0]["content"]
    check("P-7" in user and "<report>" in user and json.dumps(STALE) in user, user[:300])
    check("response_format" not in sent, "OpenAI's response_format sent to Anthropic")
    fmt = sent["output_config"]["format"]
    eq(fmt["type"], "json_schema")
    schema = fmt["schema"]
    eq(sorted(schema["required"]), ["decision", "rotation_window_days", "source_line_ids"])
    eq(schema["additionalProperties"], False)
    eq(schema["properties"]["decision"]["enum"], ["eligible", "not_eligible", "needs_review"])
    eq(schema["properties"]["rotation_window_days"]["type"], "integer")
    check(MODEL_KEY not in json.dumps(sent) and HEADER_SECRET not in json.dumps(sent),
          "a secret in the body")
    stored = trace_row(body["trace_id"])
    eq(stored["provider"], "anthropic")
    eq(stored["request_model"], "claude-test")
    eq(stored["response_model"], "claude-fake-1")
    check(stored["response_id"].startswith("msg_fake"), stored)
    eq(stored["finish_reason"], "end_turn")
    eq((stored["input_tokens"], stored["output_tokens"]), (412, 23))
    eq(stored["provider_attempts"], 1)


@test
def fault_matrix_gives_the_named_error_and_attempt_count():
    problems = []
    for name, _http, want, attempts in FAULT_MATRIX:
        scenario(name)
        r = decide()
        eq(r.status, 200, name + ": " + r.text[:200])
        body = r.json()
        got = body["status"] if body["status"] == "completed" else body.get("error_code")
        ncalls = len(calls())
        stored = trace_row(body["trace_id"])["provider_attempts"]
        if (got, ncalls, stored) != (want, attempts, attempts):
            problems.append("%s: got %s after %d calls (trace says %d), want %s after %d"
                            % (name, got, ncalls, stored, want, attempts))
        if name == "slow":
            check(r.elapsed < TIMEOUT_MS / 1000 + 1, "timeout answered after %.2fs" % r.elapsed)
    check(not problems, "\n".join(problems))


@test
def retry_after_is_honoured_on_a_429():
    scenario("rate_limit_then_success")
    decide()
    reqs = calls()
    eq(len(reqs), 2)
    gap = reqs[1]["time"] - reqs[0]["time"]
    check(gap >= 0.9, "waited %.2fs for retry-after: 1" % gap)


@test
def answer_outside_the_bounds_left_out_of_the_schema_is_still_refused():
    # Anthropic's schema carries no numeric bounds; answer_parse holds them.
    scenario("script", replies=[{"content": json.dumps(
        {"decision": "eligible", "rotation_window_days": 4000, "source_line_ids": ["P-7"]})}])
    body = decide().json()
    eq((body["status"], body["error_code"]), ("failed", "invalid_decision"))


@test
def invalid_utf8_metadata_is_dropped_not_stored():
    raw = (b'{"id":"msg_\xff","type":"message","role":"assistant","model":"claude-\xc3",'
           b'"content":[{"type":"text","text":' + json.dumps(json.dumps(
               {"decision": "eligible", "rotation_window_days": 30,
                "source_line_ids": ["P-7"]})).encode() +
           b'}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}')
    scenario("raw", body_b64=base64.b64encode(raw).decode())
    body = decide().json()
    eq(body["status"], "completed", body)
    stored = trace_row(body["trace_id"])
    eq((stored["response_id"], stored["response_model"]), (None, None))


@test
def api_version_overrides_the_anthropic_version_header():
    restart_keyrota(**keyrota_env(KEYROTA_MODEL_API_VERSION="2099-01-01"))
    try:
        scenario("success")
        eq(decide().json()["status"], "completed")
        eq(lower(calls()[0]["headers"]).get("anthropic-version"), "2099-01-01")
    finally:
        restart_keyrota(**keyrota_env())


@test
def key_and_header_values_are_in_no_log_trace_or_page():
    for name in ("success", "unauthorized", "anthropic_overloaded"):
        scenario(name)
        tid = decide().json()["trace_id"]
    with open(os.path.join(VAR, "log", "keyrota.log")) as f:
        log = f.read()
    for secret in (MODEL_KEY, HEADER_SECRET):
        check(secret not in log, "a secret in the log")
        hits = psql("SELECT count(*) FROM traces t WHERE t::text LIKE '%' || :'p1' || '%'",
                    secret)
        eq(hits[0][0], "0", "a secret in a trace")
        for path in ("/rotation/traces/" + tid, "/"):
            check(secret not in get(path, headers={"Accept": "text/html"}).text,
                  "a secret in " + path)


@test
def provider_check_works_for_anthropic():
    scenario("success")
    before = psql("SELECT count(*) FROM traces")[0][0]
    env = without_keyrota_env()
    env.update({k: str(v) for k, v in keyrota_env().items()})
    env["KEYROTA_DATABASE_URL"] = database_url()
    out = subprocess.run([BINARY, "provider-check"], env=env, capture_output=True, text=True,
                         timeout=30)
    eq(out.returncode, 0, out.stdout + out.stderr)
    check("provider: anthropic" in out.stdout, out.stdout)
    check("answered: claude-fake-1" in out.stdout, out.stdout)
    check("decision: eligible" in out.stdout and "verified: ok" in out.stdout, out.stdout)
    for secret in (MODEL_KEY, HEADER_SECRET):
        check(secret not in out.stdout + out.stderr, "a secret printed")
    eq(psql("SELECT count(*) FROM traces")[0][0], before, "no trace written")
    eq(lower(calls()[0]["headers"]).get("x-api-key"), MODEL_KEY)
    scenario("anthropic_spend_limit")
    out = subprocess.run([BINARY, "provider-check"], env=env, capture_output=True, text=True,
                         timeout=30)
    eq(out.returncode, 1)
    check("error provider_rate_limited" in out.stdout and "attempts: 1" in out.stdout,
          out.stdout)


@test
def anthropic_without_a_key_file_refuses_to_start():
    env = without_keyrota_env()
    env.update({k: str(v) for k, v in keyrota_env().items()})
    del env["KEYROTA_MODEL_KEY_FILE"]
    env["KEYROTA_FINGERPRINT_KEY_FILE"] = os.path.join(VAR, "secrets", "fingerprint.key")
    out = subprocess.run([BINARY, "serve"], env=env, capture_output=True, text=True, timeout=10)
    eq(out.returncode, 2)
    check("KEYROTA_MODEL_KEY_FILE" in out.stderr and "anthropic" in out.stderr, out.stderr)

"""OTLP/HTTP JSON export of traces (docs/telemetry.md), through nginx,
against the fake model server and a local OTLP receiver started here on
127.0.0.1: the spans each decision produces, checked against the OTLP JSON
encoding and the OpenTelemetry GenAI names; what is never exported; and
that a collector that is down or stalled changes nothing for decisions."""
import base64
import json
import os
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import (VAR, check, eq, get, request, restart_keyrota, start_fake_model,
                     stop_fake_model, test, wait_for)
from harness import fake_model_script

MODEL_KEY = "sk-test-otlp-" + uuid.uuid4().hex
# Header values are secrets: the receiver must get them as headers, and
# nothing else may carry them. The second is percent-encoded in the
# variable (a comma and a space inside a value).
BASIC = base64.b64encode(("pk-lf-%s:sk-lf-%s" % (uuid.uuid4().hex, uuid.uuid4().hex))
                         .encode()).decode()
TENANT = "tenant, %s" % uuid.uuid4().hex
HEADERS = "Authorization=Basic%%20%s,X-Scope-OrgID=%s" % (BASIC, urllib.parse.quote(TENANT))
SERVICE = "keyrota-otlp-test"
fake = {}
receiver = {}


class Receiver(BaseHTTPRequestHandler):
    """Records each POST /v1/traces (path, headers, parsed body, raw
    bytes). In "stall" mode it reads the request and never answers."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with receiver["lock"]:
            receiver["got"].append({"path": self.path, "headers": dict(self.headers.items()),
                                    "raw": raw})
            stall = receiver["mode"] == "stall"
        if stall:
            receiver["release"].wait(60)
            return
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    receiver.update(server=server, lock=threading.Lock(), got=[], mode="ok",
                    release=threading.Event(), port=server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()


def received():
    with receiver["lock"]:
        return list(receiver["got"])


def keyrota_env(endpoint=None, **extra):
    env = dict(KEYROTA_PROVIDER="openai",
               KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % fake["port"],
               KEYROTA_MODEL_KEY_FILE=fake["key_file"], KEYROTA_MODEL="gpt-test",
               KEYROTA_MODEL_TIMEOUT_MS=4000, KEYROTA_MODEL_MAX_ATTEMPTS=2,
               OTEL_EXPORTER_OTLP_ENDPOINT=endpoint or "http://127.0.0.1:%d" % receiver["port"],
               OTEL_EXPORTER_OTLP_HEADERS=HEADERS, OTEL_SERVICE_NAME=SERVICE,
               OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=ci%2Dtest,team=keys",
               OTEL_BSP_SCHEDULE_DELAY=50)
    env.update(extra)
    return env


def script(*replies):
    fake_model_script(fake, *replies)


def setup_module():
    fake.update(start_fake_model("otlp", MODEL_KEY))
    start_receiver()
    restart_keyrota(**keyrota_env())


def teardown_module():
    restart_keyrota()
    receiver["release"].set()
    receiver["server"].shutdown()
    stop_fake_model(fake)


def decide(report, headers=None, account="acct_10234"):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    h.update(headers or {})
    started = time.monotonic()
    r = request("POST", "/rotation/decide", headers=h, body=json.dumps(
        {"account_id": account, "credential_report": report}).encode())
    r.elapsed = time.monotonic() - started
    return r


def attrs(obj):
    """Attribute list -> {key: decoded value}."""
    out = {}
    for a in obj.get("attributes", []):
        v = a["value"]
        (kind, val), = v.items()
        if kind == "intValue":
            val = int(val)
        elif kind == "arrayValue":
            val = [next(iter(x.values())) for x in val.get("values", [])]
        out[a["key"]] = val
    return out


HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DIGITS = re.compile(r"^(0|[1-9][0-9]*)$")


def check_value(v, where):
    check(isinstance(v, dict) and len(v) == 1, "%s: one value field: %r" % (where, v))
    (kind, val), = v.items()
    if kind == "stringValue":
        check(isinstance(val, str), "%s: stringValue %r" % (where, val))
    elif kind == "intValue":
        # int64 is a decimal string in OTLP/JSON.
        check(isinstance(val, str) and re.match(r"^-?[0-9]+$", val),
              "%s: intValue must be a decimal string: %r" % (where, val))
    elif kind == "doubleValue":
        check(isinstance(val, (int, float)) and not isinstance(val, bool),
              "%s: doubleValue %r" % (where, val))
    elif kind == "boolValue":
        check(isinstance(val, bool), "%s: boolValue %r" % (where, val))
    elif kind == "arrayValue":
        check(isinstance(val, dict) and isinstance(val.get("values", []), list), where)
        for x in val.get("values", []):
            check_value(x, where + "[]")
    else:
        raise AssertionError("%s: unknown value kind %s" % (where, kind))


def check_attributes(obj, where):
    keys = []
    for a in obj.get("attributes", []):
        check(set(a) == {"key", "value"}, "%s: attribute members %r" % (where, a))
        check(isinstance(a["key"], str) and a["key"], where)
        check_value(a["value"], "%s.%s" % (where, a["key"]))
        keys.append(a["key"])
    eq(len(keys), len(set(keys)), where + ": attribute keys are unique")


def check_encoding(doc):
    """Every rule of the OTLP/JSON mapping a span of keyrota's can break.
    Returns the spans with their resource."""
    now = time.time_ns()
    spans = []
    check(isinstance(doc.get("resourceSpans"), list) and doc["resourceSpans"], doc.keys())
    for rs in doc["resourceSpans"]:
        check_attributes(rs["resource"], "resource")
        for ss in rs["scopeSpans"]:
            check(isinstance(ss["scope"]["name"], str), "scope name")
            for s in ss["spans"]:
                name = s.get("name")
                check(isinstance(name, str) and name, "span name %r" % name)
                check(HEX32.match(s["traceId"]) and s["traceId"] != "0" * 32,
                      "traceId is 32 lowercase hex, not zero: %r" % s["traceId"])
                check(HEX16.match(s["spanId"]) and s["spanId"] != "0" * 16,
                      "spanId is 16 lowercase hex, not zero: %r" % s["spanId"])
                if "parentSpanId" in s:
                    check(HEX16.match(s["parentSpanId"]) and s["parentSpanId"] != "0" * 16,
                          "parentSpanId %r" % s["parentSpanId"])
                for k in ("startTimeUnixNano", "endTimeUnixNano"):
                    check(isinstance(s[k], str) and DIGITS.match(s[k]),
                          "%s is a decimal string: %r" % (k, s[k]))
                start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
                check(start <= end, "end >= start")
                check(abs(now - start) < 3600 * 10**9, "start is a wall-clock time in ns")
                check(isinstance(s["kind"], int) and s["kind"] in (2, 3),
                      "kind is SERVER=2 or CLIENT=3 as an integer: %r" % s["kind"])
                code = s.get("status", {}).get("code", 0)
                check(isinstance(code, int) and code in (0, 1, 2), "status code %r" % code)
                check_attributes(s, "span " + name)
                spans.append((rs, s))
    return spans


def spans_of(trace_id, want, timeout=15):
    """The spans the receiver got for one tr_ id, once there are want."""
    def find():
        found = []
        for got in received():
            doc = json.loads(got["raw"])
            for rs, s in check_encoding(doc):
                if attrs(s).get("keyrota.trace_id") == trace_id:
                    found.append((got, rs, s))
        return found if len(found) >= want else None
    found = wait_for(find, timeout=timeout, interval=0.1)
    check(found, "the receiver got %d spans of %s" % (want, trace_id))
    eq(len(found), want, "spans of " + trace_id)
    server = [f for f in found if f[2]["kind"] == 2]
    clients = sorted((f for f in found if f[2]["kind"] == 3),
                     key=lambda f: attrs(f[2])["keyrota.attempt"])
    eq(len(server), 1, "one server span")
    return server[0], clients


def w3c_of(tid):
    raw = base64.urlsafe_b64decode(tid[3:] + "==")[:16]
    return raw.hex()


def check_genai(s, status_code, error=None):
    a = attrs(s)
    eq(s["name"], "chat gpt-test", "client span name {operation} {model}")
    eq(s["kind"], 3)
    eq((a["gen_ai.operation.name"], a["gen_ai.provider.name"], a["gen_ai.request.model"],
        a["gen_ai.output.type"], a["gen_ai.prompt.name"], a["gen_ai.prompt.version"]),
       ("chat", "openai", "gpt-test", "json", "rotation_decision", "2"))
    eq((a["server.address"], a["server.port"]), ("127.0.0.1", fake["port"]))
    eq(a["gen_ai.request.temperature"], 0)
    check("doubleValue" in json.dumps([x["value"] for x in s["attributes"]
                                       if x["key"] == "gen_ai.request.temperature"]),
          "temperature is a double")
    eq(a["gen_ai.request.max_tokens"], 200)
    eq(a["http.response.status_code"], status_code)
    check("gen_ai.system" not in a, "the deprecated gen_ai.system is gone")
    if error is None:
        check("error.type" not in a, a)
        eq(s.get("status", {}).get("code", 0), 0, "a call that answered is not an error")
        eq((a["gen_ai.response.model"], a["gen_ai.usage.input_tokens"],
            a["gen_ai.usage.output_tokens"], a["gen_ai.response.finish_reasons"]),
           ("fake-model-1", 321, 17, ["stop"]))
        check(a["gen_ai.response.id"].startswith("chatcmpl-fake"), a)
    else:
        eq(a["error.type"], error)
        eq(s["status"]["code"], 2, "a failed call's status is ERROR")


@test
def a_completed_decision_is_one_server_and_one_client_span():
    secret = "otlp-report-%s stale deploy key" % uuid.uuid4().hex
    script({})
    r = decide(secret)
    body = r.json()
    eq((body["status"], body["decision"]), ("completed", "eligible"))
    tid = body["trace_id"]
    (got, rs, server), clients = spans_of(tid, 2)
    eq(got["path"], "/v1/traces")
    eq(got["headers"].get("Content-Type"), "application/json")
    # OTEL_EXPORTER_OTLP_HEADERS, percent-decoded, as request headers.
    eq(got["headers"].get("Authorization"), "Basic " + BASIC)
    eq(got["headers"].get("X-Scope-OrgID"), TENANT)
    res = attrs(rs["resource"])
    eq((res["service.name"], res["deployment.environment.name"], res["team"]),
       (SERVICE, "ci-test", "keys"))
    # The span ids are W3C's: the tr_ id's 128 bits, as the admin shows.
    eq(server["traceId"], w3c_of(tid))
    eq(server["name"], "POST /rotation/decide")
    check("parentSpanId" not in server, "a decision without traceparent is a root")
    sa = attrs(server)
    eq((sa["keyrota.trace_id"], sa["keyrota.status"], sa["keyrota.decision"],
        sa["http.request.method"], sa["http.route"]),
       (tid, "completed", "eligible", "POST", "/rotation/decide"))
    check("error.type" not in sa, sa)
    eq(server.get("status", {}).get("code", 0), 0)
    (_, _, client), = clients
    eq((client["traceId"], client["parentSpanId"]), (server["traceId"], server["spanId"]))
    check(int(server["startTimeUnixNano"]) <= int(client["startTimeUnixNano"]) and
          int(client["endTimeUnixNano"]) <= int(server["endTimeUnixNano"]),
          "the model call lies within the decision")
    check_genai(client, 200)
    # The admin detail shows the same W3C trace id.
    from test_admin import admin
    d = admin("/admin/traces/" + tid).json()
    eq(d["w3c_trace_id"], server["traceId"])
    page = admin("/admin/traces/" + tid, json_=False)
    check('<code id="d-w3c">%s</code>' % server["traceId"] in page.text, "W3C id on the page")
    # Never exported: the report, the model key, the header values.
    everything = b"".join(g["raw"] for g in received())
    for needle in (secret, "otlp-report-", MODEL_KEY, BASIC, TENANT.split(", ")[1]):
        check(needle.encode() not in everything, "%r reached the collector's bodies" % needle)
    for g in received():
        check(MODEL_KEY not in json.dumps(g["headers"]), "model key in an export's headers")
    with open(os.path.join(VAR, "log", "keyrota.log"), errors="replace") as f:
        log = f.read()
    check(BASIC not in log and TENANT not in log, "an OTLP header value in keyrota's log")


@test
def a_retry_is_visible_as_two_client_spans():
    script({"status": 503, "body": {"error": {"message": "busy"}}}, {})
    body = decide("otlp retry stale key").json()
    eq((body["status"], body["decision"]), ("completed", "eligible"))
    (_, _, server), clients = spans_of(body["trace_id"], 3)
    eq(attrs(server)["keyrota.provider_attempts"], 2)
    eq([attrs(c[2])["keyrota.attempt"] for c in clients], [1, 2])
    check_genai(clients[0][2], 503, "provider_unavailable")
    check_genai(clients[1][2], 200)
    for c in clients:
        eq(c[2]["parentSpanId"], server["spanId"])
    check(int(clients[0][2]["endTimeUnixNano"]) <= int(clients[1][2]["startTimeUnixNano"]),
          "the retry follows the first call")


@test
def a_decision_failed_after_retries_is_an_error_span_with_its_code():
    script({"status": 503, "body": {"error": {"message": "busy"}}})
    body = decide("otlp failing stale key").json()
    eq((body["status"], body["error_code"]), ("failed", "provider_unavailable"))
    (_, _, server), clients = spans_of(body["trace_id"], 3)
    sa = attrs(server)
    eq((sa["keyrota.status"], sa["error.type"]), ("failed", "provider_unavailable"))
    check("keyrota.decision" not in sa, sa)
    eq((server["status"]["code"], server["status"]["message"]), (2, "provider_unavailable"))
    for c in clients:
        check_genai(c[2], 503, "provider_unavailable")


@test
def an_unknown_account_is_a_server_span_without_model_calls():
    body = decide("otlp unknown account", account="acct_00000").json()
    eq((body["status"], body["error_code"]), ("failed", "unknown_account"))
    (_, _, server), clients = spans_of(body["trace_id"], 1)
    eq((clients, attrs(server)["error.type"]), ([], "unknown_account"))


@test
def a_valid_traceparent_is_continued_and_an_invalid_one_ignored():
    script({})
    trace = uuid.uuid4().hex
    parent = uuid.uuid4().hex[:16]
    body = decide("otlp traced stale key",
                  headers={"traceparent": "00-%s-%s-01" % (trace, parent)}).json()
    eq(body["status"], "completed")
    (_, _, server), clients = spans_of(body["trace_id"], 2)
    eq((server["traceId"], server["parentSpanId"]), (trace, parent))
    eq((clients[0][2]["traceId"], clients[0][2]["parentSpanId"]), (trace, server["spanId"]))
    # The admin detail shows the trace the spans went to.
    from test_admin import admin
    d = admin("/admin/traces/" + body["trace_id"]).json()
    eq((d["w3c_trace_id"], d["otel.parent_span_id"]), (trace, parent))
    page = admin("/admin/traces/" + body["trace_id"], json_=False)
    check('<code id="d-w3c">%s</code>' % trace in page.text, "continued trace id on the page")
    # Invalid ones start their own trace and are never an error.
    for bad in ("00-%s-%s-01" % (trace.upper(), parent), "ff-%s-%s-01" % (trace, parent),
                "00-%s-%s-01" % ("0" * 32, parent), "00-%s-%s-01" % (trace, "0" * 16),
                "00-%s-%s-1" % (trace, parent), "00-%s-%s-01-x" % (trace, parent), "x" * 300):
        r = decide("otlp bad traceparent", headers={"traceparent": bad})
        eq(r.status, 200, bad)
        (_, _, server), _ = spans_of(r.json()["trace_id"], 2)
        eq(server["traceId"], w3c_of(r.json()["trace_id"]), bad)
        check("parentSpanId" not in server, bad)


@test
def a_stopping_worker_sends_its_last_spans():
    # The batch would wait a minute; the stop sends it.
    restart_keyrota(**keyrota_env(OTEL_BSP_SCHEDULE_DELAY=60000))
    try:
        script({})
        body = decide("otlp last spans").json()
        eq(body["status"], "completed")
        time.sleep(0.3)
        check(not [g for g in received() if body["trace_id"].encode() in g["raw"]],
              "exported before the batch was due")
    finally:
        restart_keyrota(**keyrota_env())
    spans_of(body["trace_id"], 2, timeout=5)


@test
def a_full_batch_is_exported_before_the_schedule_delay():
    # Batches of 4 spans, a delay of a minute: two decisions (2 spans each)
    # fill a batch, which must go at once; waiting for the delay caps a
    # worker at a batch per delay and drops the rest.
    restart_keyrota(**keyrota_env(KEYROTA_WORKERS=1, OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4,
                                  OTEL_BSP_SCHEDULE_DELAY=60000))
    try:
        script({})
        ids = []
        for i in range(2):
            body = decide("otlp full batch %d" % i).json()
            eq(body["status"], "completed")
            ids.append(body["trace_id"].encode())

        def exported():
            return all(any(t in g["raw"] for g in received()) for t in ids)
        check(wait_for(exported, timeout=10),
              "a full batch waited for the 60 s schedule delay")
    finally:
        restart_keyrota(**keyrota_env())


def metric(name):
    text = get("/metrics").text
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    check(m, "%s in /metrics" % name)
    return int(m.group(1))


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def a_collector_that_is_down_changes_nothing_for_decisions():
    restart_keyrota(**keyrota_env("http://127.0.0.1:%d" % closed_port(), KEYROTA_WORKERS=1))
    try:
        script({})
        failed = metric("keyrota_otlp_spans_failed_total")
        for i in range(5):
            r = decide("otlp collector down %d" % i)
            eq((r.status, r.json()["status"]), (200, "completed"))
            check(r.elapsed < 2, "decision took %.2fs with the collector down" % r.elapsed)
        check(wait_for(lambda: metric("keyrota_otlp_spans_failed_total") >= failed + 2,
                       timeout=10), "failed exports are counted")
    finally:
        restart_keyrota(**keyrota_env())


@test
def a_stalled_collector_changes_nothing_and_a_full_queue_drops_and_counts():
    with receiver["lock"]:
        receiver["mode"] = "stall"
    # One worker, a queue of 4 spans (two decisions), an export timeout
    # far longer than the test: the first export hangs, the queue fills,
    # the rest is dropped.
    restart_keyrota(**keyrota_env(KEYROTA_WORKERS=1, OTEL_BSP_MAX_QUEUE_SIZE=4,
                                  OTEL_EXPORTER_OTLP_TIMEOUT=30000, OTEL_BSP_SCHEDULE_DELAY=10))
    try:
        script({})
        dropped = metric("keyrota_otlp_spans_dropped_total")
        n = len(received())
        for i in range(8):
            r = decide("otlp collector stalled %d" % i)
            eq((r.status, r.json()["status"]), (200, "completed"))
            check(r.elapsed < 2, "decision took %.2fs with the collector stalled" % r.elapsed)
            time.sleep(0.05)
        # 8 decisions of 2 spans: one export in flight holds at most 4,
        # the queue 4 more; at least 8 spans were dropped.
        check(wait_for(lambda: metric("keyrota_otlp_spans_dropped_total") >= dropped + 8,
                       timeout=10), "dropped spans are counted")
        eq(len(received()) - n, 1, "one export in flight at a time, not a retry storm")
    finally:
        with receiver["lock"]:
            receiver["mode"] = "ok"
        receiver["release"].set()
        restart_keyrota(**keyrota_env())
        receiver["release"].clear()

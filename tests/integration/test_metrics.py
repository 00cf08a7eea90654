"""GET /metrics through nginx, read with a real Prometheus text-format
parser (prometheus_client's, Debian's python3-prometheus-client): every
family's name, type and label names against the table below (the README's
"Metrics" list), no empty label value, histograms cumulative up to +Inf,
and the counters moved exactly as known traffic moves them: decisions
completed, failed and refused, a retried model call, tokens."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's package installs for Debian's python3; a python3 of its own
    # (pyenv, a venv) is pointed at it. Still missing: the module fails.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from harness import (BINARY, ROOT, VAR, check, eq, get, request, restart_keyrota,
                     runtime_database_url, start_fake_model, stop_fake_model,
                     supervisor_pid, test, wait_for, worker_pids)
from harness import fake_model_control, fake_model_script

RULES_DIR = os.path.join(ROOT, "contrib", "prometheus")
STALE = "The CI deploy key for this service account is stale."
# A model name with every character the text format escapes in a label.
MODEL = 'gpt-"odd"\\name'
WORKERS, POOL_SIZE = 2, 3
fake = {}

# Family name (as the parser names it: a counter without "_total") ->
# (type, label names of its samples, "le" aside).
FAMILIES = {
    "keyrota_build_info": ("gauge", {"version", "prompt_version", "provider", "model"}),
    "keyrota_http_requests": ("counter", {"route", "method", "code"}),
    "keyrota_http_request_duration_seconds": ("histogram", {"route"}),
    "keyrota_decisions": ("counter", {"outcome", "error_type"}),
    "keyrota_decisions_in_flight": ("gauge", set()),
    "keyrota_admission_refused": ("counter", {"error_type"}),
    "keyrota_provider_request_duration_seconds": ("histogram",
                                                  {"provider", "model", "error_type"}),
    "keyrota_provider_attempts": ("counter", {"provider", "model", "error_type"}),
    "keyrota_provider_retries": ("counter", {"provider", "model"}),
    "keyrota_provider_tokens": ("counter", {"type"}),
    "keyrota_db_pool_connections": ("gauge", {"state"}),
    "keyrota_db_pool_max_connections": ("gauge", set()),
    "keyrota_eval_last_run_pass_ratio": ("gauge", set()),
    "keyrota_eval_last_run_timestamp_seconds": ("gauge", set()),
    "keyrota_worker_restarts": ("counter", set()),
    "keyrota_db_connection_failures": ("counter", set()),
    "keyrota_traces_expired": ("counter", set()),
    "keyrota_eval_runs_expired": ("counter", set()),
    "keyrota_accept_backoffs": ("counter", set()),
    "keyrota_otlp_spans_exported": ("counter", set()),
    "keyrota_otlp_spans_dropped": ("counter", set()),
    "keyrota_otlp_spans_failed": ("counter", set()),
    "process_cpu_seconds": ("counter", set()),
    "process_resident_memory_bytes": ("gauge", set()),
    "process_virtual_memory_bytes": ("gauge", set()),
    "process_open_fds": ("gauge", set()),
    "process_max_fds": ("gauge", set()),
    "process_start_time_seconds": ("gauge", set()),
}


def control(path, obj=None):
    return fake_model_control(fake, path, obj)


def script(*replies):
    fake_model_script(fake, *replies)


def record_eval_run():
    """One recorded `keyrota eval` run with 1 of 2 cases passing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}
    env.update({"KEYROTA_DATABASE_URL": runtime_database_url(), "KEYROTA_PROVIDER": "fixture",
                "KEYROTA_SQL_DIR": os.path.join(ROOT, "sql"),
                "KEYROTA_FINGERPRINT_KEY_FILE": os.path.join(VAR, "secrets", "fingerprint.key")})
    want = {"status": "completed", "decision": "eligible", "source_line_ids": ["P-7"]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "metrics-%s.jsonl" % uuid.uuid4().hex[:8])
        with open(path, "w") as f:
            for name, age in (("passes", 12), ("fails_on_purpose", 45)):
                f.write(json.dumps({"name": name, "age_days": age,
                                    "report": "The deploy key is stale.",
                                    "expect": want}) + "\n")
        out = subprocess.run([BINARY, "eval", path], env=env, capture_output=True, text=True,
                             timeout=120)
    eq(out.returncode, 1, out.stdout + out.stderr)
    check("eval: 1 passed, 1 failed" in out.stdout, out.stdout)


def setup_module():
    fake.update(start_fake_model("metrics"))
    record_eval_run()
    # A fresh instance: fresh counters, and the eval run read at once.
    restart_keyrota(KEYROTA_PROVIDER="openai",
                    KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % fake["port"],
                    KEYROTA_MODEL_KEY_FILE=fake["key_file"], KEYROTA_MODEL=MODEL,
                    KEYROTA_MODEL_TIMEOUT_MS=5000, KEYROTA_MODEL_MAX_ATTEMPTS=2,
                    KEYROTA_MAX_IN_FLIGHT=1, KEYROTA_WORKERS=WORKERS,
                    KEYROTA_DB_POOL_SIZE=POOL_SIZE)


def teardown_module():
    restart_keyrota()
    stop_fake_model(fake)


def scrape():
    r = get("/metrics")
    eq(r.status, 200)
    check(r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers)
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def value(fams, family, sample=None, **labels):
    """The value of the one sample of family named sample (default: the
    family's own) with exactly these labels; 0 when there is none yet."""
    f = fams[family]
    name = sample or (family + "_total" if f.type == "counter" else family)
    got = [s.value for s in f.samples if s.name == name and s.labels == labels]
    check(len(got) <= 1, "two samples %s%r" % (name, labels))
    return got[0] if got else 0.0


def decide(account="acct_10234"):
    return request("POST", "/rotation/decide",
                   body=json.dumps({"account_id": account, "credential_report": STALE}).encode(),
                   headers={"Content-Type": "application/json", "Accept": "application/json"})


def check_shape(fams):
    eq(sorted(fams), sorted(FAMILIES), "the families of /metrics")
    for name, f in fams.items():
        want_type, want_labels = FAMILIES[name]
        eq(f.type, want_type, name + " type")
        check(f.documentation, name + " has HELP")
        for s in f.samples:
            labels = set(s.labels) - ({"le"} if s.name.endswith("_bucket") else set())
            eq(labels, want_labels, "labels of " + s.name)
            check(all(v != "" for v in s.labels.values()), "empty label value in %r" % (s,))
        if f.type != "histogram":
            continue
        series = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": []})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            else:
                series[key][s.name[len(name) + 1:]] = s.value
        for key, h in series.items():
            les = [le for le, _ in h["buckets"]]
            eq(les, sorted(les), "%s%r buckets in order" % (name, key))
            eq(les[-1], float("inf"), "%s%r ends in +Inf" % (name, key))
            counts = [v for _, v in h["buckets"]]
            check(all(a <= b for a, b in zip(counts, counts[1:])),
                  "%s%r buckets are cumulative: %r" % (name, key, counts))
            eq(counts[-1], h["count"], "%s%r +Inf is the count" % (name, key))
            check(h["sum"] >= 0, "%s%r sum" % (name, key))


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@test
def every_family_parses_and_moves_with_known_traffic():
    before = scrape()
    check_shape(before)
    # The eval run recorded before the restart, read in the background.
    check(wait_for(lambda: value(scrape(), "keyrota_eval_last_run_timestamp_seconds") > 0,
                   timeout=10), "the eval run never showed")

    # A: a 503, then, after a retry, an answer that takes 0.9 s; B arrives
    # meanwhile and is refused (one decision in flight at most).
    answer = {"decision": "eligible", "rotation_window_days": 30, "source_line_ids": ["P-7"]}
    script({"status": 503, "body": {"error": {"message": "busy"}}},
           {"content": json.dumps(answer), "delay_ms": 900})
    results = []
    t = threading.Thread(target=lambda: results.append(decide()))
    t.start()
    check(wait_for(lambda: value(scrape(), "keyrota_decisions_in_flight") == 1, timeout=5),
          "decision A in flight")
    refused = decide()
    t.join(30)
    eq(refused.status, 503, refused.text)
    eq(refused.json()["error_code"], "overloaded")
    eq(len(results), 1)
    eq(results[0].json().get("decision"), "eligible", results[0].text)
    # C: an answer at once, which the account's trusted row contradicts.
    script({"content": json.dumps(answer)})
    eq(decide("acct_10235").json().get("error_code"), "policy_conflict")
    eq(get("/nope").status, 404)

    after = scrape()
    check_shape(after)

    def delta(family, sample=None, **labels):
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    p = {"provider": "openai", "model": MODEL}
    eq(delta("keyrota_decisions", outcome="eligible", error_type="none"), 1)
    eq(delta("keyrota_decisions", outcome="failed", error_type="policy_conflict"), 1)
    eq(delta("keyrota_decisions", outcome="needs_review", error_type="none"), 0)
    eq(delta("keyrota_admission_refused", error_type="overloaded"), 1)
    decide_route = {"route": "/rotation/decide", "method": "POST"}
    eq(delta("keyrota_http_requests", code="200", **decide_route), 2)
    eq(delta("keyrota_http_requests", code="503", **decide_route), 1)
    eq(delta("keyrota_http_requests", route="unmatched", method="GET", code="404"), 1)
    # Accept to response: A waited 0.9 s for its model, so it is past 0.5.
    dur = "keyrota_http_request_duration_seconds"
    eq(delta(dur, dur + "_count", route="/rotation/decide"), 3)
    check(delta(dur, dur + "_bucket", route="/rotation/decide", le="0.5") <= 2,
          "decision A counted within 0.5 s")
    check(delta(dur, dur + "_sum", route="/rotation/decide") >= 0.9, "durations add up")
    # Per attempt: A's 503 and its answer, C's answer; one retry.
    eq(delta("keyrota_provider_attempts", error_type="none", **p), 2)
    eq(delta("keyrota_provider_attempts", error_type="provider_unavailable", **p), 1)
    eq(delta("keyrota_provider_retries", **p), 1)
    pd = "keyrota_provider_request_duration_seconds"
    eq(delta(pd, pd + "_count", error_type="none", **p), 2)
    check(delta(pd, pd + "_sum", error_type="none", **p) >= 0.9, "A's answer took 0.9 s")
    eq(delta(pd, pd + "_bucket", error_type="none", le="0.5", **p), 1)
    # The fake reports 321 prompt and 17 completion tokens per answer.
    eq(delta("keyrota_provider_tokens", type="input"), 642)
    eq(delta("keyrota_provider_tokens", type="output"), 34)
    eq(value(after, "keyrota_decisions_in_flight"), 0)

    version = subprocess.run([BINARY, "version"], capture_output=True,
                             text=True).stdout.split()[-1]
    eq(value(after, "keyrota_build_info", version=version, prompt_version="rotation_decision@2",
             provider="openai", model=MODEL), 1, "build_info, the model's name unescaped")

    eq(value(after, "keyrota_db_pool_max_connections"), WORKERS * POOL_SIZE)
    pool = (value(after, "keyrota_db_pool_connections", state="idle") +
            value(after, "keyrota_db_pool_connections", state="in_use"))
    check(1 <= pool <= WORKERS * POOL_SIZE, "pool connections %r" % pool)

    eq(value(after, "keyrota_eval_last_run_pass_ratio"), 0.5)
    check(abs(value(after, "keyrota_eval_last_run_timestamp_seconds") - time.time()) < 300,
          "the eval run started minutes ago at most")

    # process_*: the supervisor and its workers added up.
    pids = [supervisor_pid()] + worker_pids()
    rss = sum(rss_of(pid) for pid in pids)
    got = value(after, "process_resident_memory_bytes")
    check(0.5 * rss <= got <= 2 * rss, "RSS %r, /proc says %r" % (got, rss))
    check(value(after, "process_virtual_memory_bytes") >= got, "virtual >= resident")
    fds = sum(len(os.listdir("/proc/%d/fd" % pid)) for pid in pids)
    got = value(after, "process_open_fds")
    check(fds / 2 <= got <= fds * 2, "open fds %r, /proc says %r" % (got, fds))
    check(got < value(after, "process_max_fds"), "open fds under the limit")
    check(value(after, "process_cpu_seconds") > 0, "some CPU used")
    check(value(after, "process_cpu_seconds") >= value(before, "process_cpu_seconds"),
          "CPU never goes back")
    started = value(after, "process_start_time_seconds")
    check(time.time() - 120 < started <= time.time() + 1, "started just now: %r" % started)


def promtool(*args):
    """Debian's promtool: installed, or unpacked by scripts/stack test-deps."""
    path = shutil.which("promtool") or os.path.join(ROOT, "build-tools", "promtool")
    check(os.access(path, os.X_OK), "no promtool (scripts/stack test-deps unpacks one)")
    return subprocess.run([path] + list(args), cwd=RULES_DIR, capture_output=True, text=True,
                          timeout=60)


@test
def the_example_alert_rules_pass_promtool_and_name_only_real_families():
    out = promtool("check", "rules", "keyrota-alerts.yml")
    eq(out.returncode, 0, out.stdout + out.stderr)
    check("SUCCESS" in out.stdout, out.stdout)
    # The rules fire (and stay quiet) as keyrota-alerts.test.yml says.
    out = promtool("test", "rules", "keyrota-alerts.test.yml")
    eq(out.returncode, 0, out.stdout + out.stderr)
    # Every series the rules and their tests name is one /metrics has
    # (up is Prometheus's own, per scrape target).
    names = set()
    for f in ("keyrota-alerts.yml", "keyrota-alerts.test.yml"):
        with open(os.path.join(RULES_DIR, f)) as fh:
            names |= set(re.findall(r"\b((?:keyrota|process)_[a-z_]+)", fh.read()))
    check(len(names) >= 10, "the rules name families: %r" % sorted(names))
    for name in sorted(names):
        family = re.sub(r"_(total|bucket|sum|count)$", "", name)
        check(family in FAMILIES, "the rules name %s, which /metrics does not have" % name)


def postgres_pids():
    with open(os.path.join(VAR, "pg", "postmaster.pid")) as f:
        pm = int(f.readline())
    out = subprocess.run(["pgrep", "-P", str(pm)], capture_output=True, text=True).stdout
    return [pm] + [int(p) for p in out.split()]


@test
def metrics_answer_at_once_while_the_database_hangs():
    # A fresh instance has not read the eval run yet: the first scrape
    # starts that read, against a PostgreSQL that accepts and never answers.
    restart_keyrota()
    pids = postgres_pids()
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        for _ in range(3):
            started = time.monotonic()
            fams = scrape()
            took = time.monotonic() - started
            # Waiting on the database would take its 2 s connect bound.
            check(took < 1.0, "/metrics took %.2f s with the database hung" % took)
            check_shape(fams)
            eq(fams["keyrota_eval_last_run_pass_ratio"].samples, [], "no eval run read")
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)
    check(wait_for(lambda: get("/readyz").status == 200, timeout=15), "ready again")

"""Faults around keyrota's data: evals must not touch trusted accounts,
odd provider metadata must still end every trace, and two keyrota
instances on one database must not end each other's live decisions.

Each scenario prints what it measured. The model is the fake server of
tests/fake_model on 127.0.0.1; the second nginx and the two extra keyrota
instances are started here, on loopback and under var/, and stopped again."""
import base64
import concurrent.futures
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

from harness import (BINARY, ROOT, TEMPLATE_DIR, VAR, check, database_url, eq, fcgi_get, get,
                     psql, restart_keyrota, stack, start_fake_model, stop_fake_model, test,
                     wait_for)
from harness import fake_model_control, fcgi_ready

EVALS = os.path.join(ROOT, "evals", "rotations.jsonl")
STALE = "The CI deploy key for this service account is stale."
MODEL_KEY = "sk-test-keyrota-" + uuid.uuid4().hex
ANSWER = json.dumps({"decision": "eligible", "rotation_window_days": 30,
                     "source_line_ids": ["P-7"]})
fake = {}
started = {"procs": []}


def figures(scenario, **measured):
    print("  %s: %s" % (scenario, ", ".join("%s=%s" % kv for kv in measured.items())),
          flush=True)


def control(obj):
    fake_model_control(fake, "/__control", obj)


def base_env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}
    e.update({"KEYROTA_DATABASE_URL": database_url(),
              "KEYROTA_SQL_DIR": os.path.join(ROOT, "sql"),
              "KEYROTA_TEMPLATE_DIR": TEMPLATE_DIR,
              "KEYROTA_HTTP_PORT": os.environ["KEYROTA_HTTP_PORT"],
              "KEYROTA_FINGERPRINT_KEY_FILE": os.path.join(VAR, "secrets", "fingerprint.key")})
    e.update({k: str(v) for k, v in extra.items()})
    return e


def openai_env(model="gpt-test", timeout_ms=3000):
    return dict(KEYROTA_PROVIDER="openai",
                KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % fake["port"],
                KEYROTA_MODEL_KEY_FILE=fake["key_file"], KEYROTA_MODEL=model,
                KEYROTA_MODEL_TIMEOUT_MS=timeout_ms, KEYROTA_MODEL_MAX_ATTEMPTS=1)


def setup_module():
    fake.update(start_fake_model("faults-data", MODEL_KEY))


def teardown_module():
    stop_started()
    restart_keyrota()
    stop_fake_model(fake)


def stop_started():
    for p in started["procs"]:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in started["procs"]:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    started["procs"] = []


def post_json(body, port=None, headers=None, timeout=30):
    """A JSON POST as a script would send it: no Accept header."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port or int(os.environ["KEYROTA_HTTP_PORT"]),
                                      timeout=timeout)
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request("POST", "/rotation/decide", body=json.dumps(body).encode(), headers=h)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        conn.close()


def trace_rows(ids):
    if not ids:
        return {}
    rows = psql("SELECT trace_id, status, coalesce(error_code, ''), "
                "coalesce(encode(convert_to(response_model, 'UTF8'), 'hex'), ''), "
                "coalesce(encode(convert_to(response_id, 'UTF8'), 'hex'), ''), "
                "coalesce(finish_reason, ''), request_model, "
                "coalesce((finished_at <= deadline_at)::text, ''), "
                "coalesce(to_char(deadline_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), ''), "
                "coalesce(extract(epoch FROM finished_at - deadline_at)::text, '') "
                "FROM traces WHERE trace_id = ANY(string_to_array(:'p1', ','))", ",".join(ids))
    return {r[0]: r for r in rows}


# --- 1. keyrota eval never writes trusted data ------------------------------

def accounts_digest():
    return tuple(psql("SELECT count(*), md5(coalesce(string_agg(account_id || '|' || "
                      "extract(epoch FROM key_created_at)::text, ',' ORDER BY account_id), "
                      "'')) FROM accounts")[0])


@test
def eval_leaves_every_account_byte_for_byte_unchanged():
    psql("DROP TABLE IF EXISTS faults_accounts_before; "
         "CREATE TABLE faults_accounts_before AS SELECT * FROM accounts")
    try:
        # Accounts in every id range, the eval's old acct_8xxxx block included,
        # with 100-day-old keys: an eval that read them would fail its cases.
        psql("INSERT INTO accounts (account_id, key_created_at) "
             "SELECT 'acct_' || lpad(i::text, 5, '0'), now() - interval '100 days' "
             "FROM generate_series(0, 99999) i ON CONFLICT DO NOTHING")
        before = accounts_digest()
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([BINARY, "eval", EVALS, "--json",
                                  os.path.join(tmp, "report.json")],
                                 env=base_env(KEYROTA_PROVIDER="fixture"), capture_output=True,
                                 text=True, timeout=120)
            with open(os.path.join(tmp, "report.json")) as f:
                report = json.load(f)
        after = accounts_digest()
        figures("eval vs accounts", accounts_before=before[0], accounts_after=after[0],
                digest_equal=before == after, cases_passed=report["passed"],
                cases_failed=report["failed"])
        eq(after, before, "accounts (count, digest) after the eval")
        eq(out.returncode, 0, out.stdout[-2000:] + out.stderr)
        eq(report["failed"], 0, "every case passes with the case's own key age")
        ids = [c["trace_id"] for c in report["cases"] if c["trace_id"]]
        check(len(ids) >= 15, "the cases made traces: %d" % len(ids))
        marked = psql("SELECT count(*) FROM traces WHERE eval AND "
                      "trace_id = ANY(string_to_array(:'p1', ','))", ",".join(ids))[0][0]
        eq(int(marked), len(ids), "every eval trace is marked")
        # The admin lookup leaves eval traces out unless asked for them.
        account = psql("SELECT account_id FROM traces WHERE trace_id = :'p1'", ids[0])[0][0]
        default = admin_json("/admin/traces?account_id=" + account)["traces"]
        check(ids[0] not in [t["trace_id"] for t in default], "eval trace in the default list")
        evals = admin_json("/admin/traces?origin=evals&account_id=" + account)["traces"]
        check(ids[0] in [t["trace_id"] for t in evals], "eval trace missing with origin=evals")
        check(all(t["eval"] for t in evals), "origin=evals lists eval traces only")
        every = admin_json("/admin/traces?origin=all&account_id=" + account)["traces"]
        check(ids[0] in [t["trace_id"] for t in every], "eval trace missing with origin=all")
        detail = admin_json("/admin/traces/" + ids[0])
        eq(detail["eval"], True, "the detail says eval")
        r = admin_get("/admin/traces?origin=mine")
        eq(r.status, 422, "an unknown origin is refused")
        check("origin" in r.json()["fields"], r.text)
    finally:
        psql("DELETE FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM faults_accounts_before b "
             "WHERE b.account_id = a.account_id); DROP TABLE faults_accounts_before")


def admin_get(path):
    with open(os.path.join(VAR, "secrets", "admin.password")) as f:
        pw = f.read().strip()
    token = base64.b64encode(("admin:" + pw).encode()).decode()
    return get(path, headers={"Authorization": "Basic " + token, "Accept": "application/json"})


def admin_json(path):
    r = admin_get(path)
    eq(r.status, 200, r.text[:200])
    return r.json()


# --- 2. odd provider metadata -------------------------------------------------

def raw_completion(model=b"fake-model-1", rid=b"chatcmpl-1", finish=b"stop"):
    """A completion body with metadata inserted as raw bytes."""
    def s(v):
        return b'"' + v + b'"'
    return (b'{"id":' + s(rid) + b',"object":"chat.completion","model":' + s(model) +
            b',"choices":[{"index":0,"message":{"role":"assistant","content":' +
            json.dumps(ANSWER).encode() + b',"refusal":null},"finish_reason":' +
            s(finish) + b'}],"usage":{"prompt_tokens":3,"completion_tokens":2}}')


def metadata_cases():
    cases = []
    for ch in ("\u00e9", "\u20ac", "\U0001F600"):
        enc = ch.encode()
        # The stored model and id hold at most 127 bytes: every split of a
        # 2-, 3- and 4-byte character around that boundary.
        for k in range(122, 129):
            v = b"a" * k + enc + b"xyz"
            cases.append(("model %d+%dB" % (k, len(enc)), dict(model=v)))
            cases.append(("id %d+%dB" % (k, len(enc)), dict(rid=v)))
        for k in range(27, 32):
            cases.append(("finish_reason %d+%dB" % (k, len(enc)),
                          dict(finish=b"a" * k + enc)))
    for bad in (b"gpt-\xff", b"gpt-\xc3", b"\xc0\xaf", b"\xed\xa0\x80x", b"chat\xe2\x82"):
        cases.append(("invalid utf-8 model %r" % bad, dict(model=bad)))
        cases.append(("invalid utf-8 id %r" % bad, dict(rid=bad)))
    cases.append(("NUL in model", dict(model=b"gpt\\u0000evil")))
    cases.append(("NUL in id", dict(rid=b"id\\u0000x")))
    cases.append(("NUL in finish_reason", dict(finish=b"stop\\u0000")))
    cases.append(("control character in model", dict(model=b"gpt\\u0007")))
    cases.append(("126 a + e-acute + xyz (the report)", dict(model=b"a" * 126 + "\u00e9xyz".encode())))
    return cases


def stored_ok(sent, stored_hex):
    """What is stored is empty, or valid UTF-8 that is a prefix of what was
    sent, cut on a character boundary."""
    stored = bytes.fromhex(stored_hex)
    if not stored:
        return True
    try:
        text = stored.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return sent.startswith(stored) and len(stored) <= 127 and "\x00" not in text


@test
def odd_provider_metadata_ends_every_trace_with_a_named_outcome():
    restart_keyrota(**openai_env())
    sent = failed = false_503 = 0
    outcomes = {}
    ids = {}
    started_at = time.monotonic()
    try:
        for name, meta in metadata_cases():
            control({"scenario": "raw",
                     "body_b64": base64.b64encode(raw_completion(**meta)).decode()})
            status, ctype, body = post_json({"account_id": "acct_10234",
                                             "credential_report": STALE})
            sent += 1
            if status == 503:
                false_503 += 1
            check(ctype.startswith("application/json"), "%s: %d %s %r" % (name, status, ctype,
                                                                          body[:80]))
            check(status == 200, "%s: %d %r" % (name, status, body[:200]))
            r = json.loads(body)
            ids[r["trace_id"]] = (name, meta)
            outcome = r["status"] if r["status"] == "completed" else r.get("error_code")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            failed += r["status"] != "completed"
        rows = trace_rows(list(ids))
        lost = len(ids) - len(rows)
        running = [t for t, r in rows.items() if r[1] == "running"]
        late = [t for t, r in rows.items() if r[7] != "true"]
        figures("odd metadata", requests_sent=sent, failed=failed, false_503s=false_503,
                traces_lost=lost, left_running=len(running), after_deadline=len(late),
                outcomes=outcomes, seconds="%.1f" % (time.monotonic() - started_at))
        eq(false_503, 0, "503s")
        eq(lost, 0, "traces lost")
        eq(running, [], "traces left running")
        eq(late, [], "traces ended after their deadline_at")
        for tid, (name, meta) in ids.items():
            row = rows[tid]
            check(row[1] in ("completed", "failed") and (row[1] == "completed" or row[2]),
                  "%s: %r" % (name, row))
            check(stored_ok(meta.get("model", b"fake-model-1"), row[3]),
                  "%s: stored model %r" % (name, bytes.fromhex(row[3])))
            check(stored_ok(meta.get("rid", b"chatcmpl-1"), row[4]),
                  "%s: stored id %r" % (name, bytes.fromhex(row[4])))
            if name.startswith("finish_reason") or name.startswith("NUL in finish"):
                # Only "stop" is a finished answer.
                eq((row[1], row[2]), ("failed", "invalid_decision"), name)
            elif name.startswith("model") or name.startswith("id") or "(the report)" in name:
                # Valid UTF-8, only too long: the answer stands, cut to fit.
                eq(row[1], "completed", name)
                check(row[3 if "model" in meta else 4] != "", name + ": kept, cut")
    finally:
        control({"scenario": "success"})


@test
def a_json_post_without_accept_gets_json_errors():
    key = "faults-%s" % uuid.uuid4().hex
    status, ctype, body = post_json({"account_id": "acct_10234", "credential_report": STALE},
                                    headers={"Idempotency-Key": key})
    check(status in (200, 202), "%d %r" % (status, body[:200]))
    status, ctype, body = post_json({"account_id": "acct_10235", "credential_report": STALE},
                                    headers={"Idempotency-Key": key})
    eq(status, 409, "a reused key with another body")
    check(ctype.startswith("application/json"), "content type %r: %r" % (ctype, body[:80]))
    eq(json.loads(body)["error_code"], "idempotency_conflict")
    # curl and most HTTP libraries send a lone wildcard: still no preference.
    status, ctype, body = post_json({"account_id": "acct_10235", "credential_report": STALE},
                                    headers={"Idempotency-Key": key, "Accept": "*/*"})
    eq(status, 409, "a reused key with another body, Accept: */*")
    check(ctype.startswith("application/json"), "content type %r: %r" % (ctype, body[:80]))


# --- 3. two instances, one database --------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_instance(name, model, timeout_ms, grace_ms):
    sock = os.path.join(VAR, "run", "faults-%s.sock" % name)
    if os.path.exists(sock):
        os.unlink(sock)
    env = base_env(KEYROTA_LISTEN="unix:" + sock, KEYROTA_WORKERS=1, KEYROTA_THREADS=8,
                   KEYROTA_REAPER_INTERVAL_MS=200, KEYROTA_REAPER_GRACE_MS=grace_ms,
                   **openai_env(model=model, timeout_ms=timeout_ms))
    log = open(os.path.join(VAR, "log", "faults-%s.log" % name), "ab")
    p = subprocess.Popen([BINARY, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log, start_new_session=True)
    log.close()
    started["procs"].append(p)
    check(wait_for(lambda: fcgi_ready(sock) or p.poll() is not None, timeout=15) and
          p.poll() is None, "instance %s did not start" % name)
    return p, sock


def start_upstream_nginx(sockets, port):
    """nginx with one upstream of keyrota instances: how keyrota grows past
    one host (README, "More than one instance")."""
    conf_dir = os.path.join(VAR, "nginx-faults")
    shutil.rmtree(conf_dir, ignore_errors=True)
    os.makedirs(conf_dir)
    user = os.environ.get("KEYROTA_USER", "keyrota")
    group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    with open(os.path.join(ROOT, "nginx", "keyrota-locations.conf.in")) as f:
        locations = f.read()
    locations = (locations.replace("unix:@SOCKET@", "keyrota_instances")
                 .replace("@STATIC_ROOT@", os.path.join(os.path.dirname(TEMPLATE_DIR), "static"))
                 .replace("@HTPASSWD@", os.path.join(VAR, "nginx", "htpasswd"))
                 .replace("@READ_TIMEOUT@", "20").replace("@BURST@", "20000")
                 .replace("@RETRY_AFTER@", "1"))
    with open(os.path.join(conf_dir, "keyrota-locations.conf"), "w") as f:
        f.write(locations)
    with open(os.path.join(ROOT, "nginx", "keyrota-limits.conf.in")) as f:
        limits = f.read().replace("@RATE@", "2000r/s")
    with open(os.path.join(conf_dir, "keyrota-limits.conf"), "w") as f:
        f.write(limits)
    with open(os.path.join(ROOT, "nginx", "nginx.conf.in")) as f:
        conf = f.read()
    upstream = "    upstream keyrota_instances {\n%s    }\n\n" % "".join(
        "        server unix:%s max_fails=1 fail_timeout=30s;\n" % s for s in sockets)
    conf = (conf.replace("@VAR@/nginx/", conf_dir + "/").replace("@VAR@", VAR)
            .replace("@HTTP_PORT@", str(port)).replace("@USER@", user)
            .replace("@GROUP@", group).replace("@NGINX_CONNECTIONS@", "1024")
            .replace("@NGINX_NOFILE@", "4096").replace("@BACKLOG@", "4096")
            .replace("    server {", upstream + "    server {", 1))
    path = os.path.join(conf_dir, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    p = subprocess.Popen(["nginx", "-c", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    started["procs"].append(p)

    def up():
        try:
            return request_port(port, "GET", "/healthz").status == 200
        except OSError:
            return False
    check(wait_for(up, timeout=10), "the upstream nginx did not start")
    return p


def request_port(port, method, path):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        r.body = r.read()
        return r
    finally:
        conn.close()


def worker_lost_count(sock):
    out = fcgi_get(sock, "/metrics").decode("utf-8", "replace")
    m = re.search(r'keyrota_decisions_total\{outcome="failed",'
                  r'error_type="worker_lost"\} (\d+)', out)
    check(m is not None, "no worker_lost counter in /metrics:\n" + out[:500])
    return int(m.group(1))


@test
def two_instances_share_one_database_without_reaping_each_others_decisions():
    # Instance "short" waits 0.8 s for its model (+0.2 s grace), "long" 3 s
    # (+0.5 s). The fake model answers "short" in 0.1 s and "long" in 1.8 s:
    # every decision of "long" outlives what "short" would wait for its own.
    stack("keyrota-stop")         # only these two instances reap meanwhile
    short, short_sock = start_instance("short", "gpt-short", 800, 200)
    long_, long_sock = start_instance("long", "gpt-long", 3000, 500)
    port = free_port()
    start_upstream_nginx([short_sock, long_sock], port)
    control({"scenario": "delay_by_model", "delays": {"gpt-short": 100, "gpt-long": 1800}})

    def one(_):
        try:
            status, _, body = post_json({"account_id": "acct_10234",
                                         "credential_report": STALE}, port=port)
        except OSError as e:
            return (0, str(e))
        return (status, body)

    n = 24
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(n)))
    statuses = [s for s, _ in results]
    ids = [json.loads(b)["trace_id"] for s, b in results if s == 200]
    rows = trace_rows(ids)
    by_model = {}
    for r in rows.values():
        key = (r[6], r[1] + ("/" + r[2] if r[2] else ""))
        by_model[key] = by_model.get(key, 0) + 1
    reaped = sum(1 for r in rows.values() if r[2] == "worker_lost")
    figures("two instances", requests_sent=n, http_200=statuses.count(200),
            failed=sum(1 for r in rows.values() if r[1] != "completed"),
            false_503s=statuses.count(503), live_reaped=reaped,
            traces_lost=len(ids) - len(rows), outcomes=by_model)
    eq(statuses.count(200), n, "every decision answered: %r" % statuses)
    eq(len(rows), n, "every trace stored")
    eq(reaped, 0, "live decisions reaped by the other instance")
    check(all(r[1] == "completed" for r in rows.values()), "all completed: %r" % by_model)
    check(by_model.get(("gpt-short", "completed"), 0) > 0 and
          by_model.get(("gpt-long", "completed"), 0) > 0,
          "decisions spread over both instances: %r" % by_model)

    # An eval whose fixture takes longer than its model timeout: its traces
    # carry the fixture's deadline, and the running instances leave them be.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "slow.jsonl")
        with open(path, "w") as f:
            for i in range(3):
                f.write(json.dumps({"name": "slow_%d" % i, "age_days": 12, "report": STALE,
                                    "expect": {"status": "completed", "decision": "eligible"}})
                        + "\n")
        out = subprocess.run([BINARY, "eval", path, "--json", os.path.join(tmp, "r.json")],
                             env=base_env(KEYROTA_PROVIDER="fixture",
                                          KEYROTA_FIXTURE_DELAY_MS=1500,
                                          KEYROTA_MODEL_TIMEOUT_MS=300,
                                          KEYROTA_REAPER_GRACE_MS=200),
                             capture_output=True, text=True, timeout=60)
        with open(os.path.join(tmp, "r.json")) as f:
            got = [c["got"] for c in json.load(f)["cases"]]
    figures("slow eval beside the instances", cases=len(got), got=sorted(set(got)))
    eq(out.returncode, 0, out.stdout + out.stderr)

    # SIGKILL "long" with decisions in flight: "short" ends them as
    # worker_lost once their own deadline_at has passed, not before.
    lost_before = worker_lost_count(short_sock)
    pool = concurrent.futures.ThreadPoolExecutor(8)
    futures = [pool.submit(one, i) for i in range(8)]
    in_flight = wait_for(lambda: psql(
        "SELECT trace_id FROM traces WHERE status = 'running' AND request_model = 'gpt-long' "
        "AND created_at > now() - interval '5 seconds'"), timeout=5)
    check(in_flight, "decisions reached the long instance")
    time.sleep(0.3)
    killed_at = time.monotonic()
    os.killpg(long_.pid, signal.SIGKILL)
    long_.wait(timeout=10)
    victims = [r[0] for r in psql(
        "SELECT trace_id FROM traces WHERE status = 'running' AND request_model = 'gpt-long' "
        "AND created_at > now() - interval '10 seconds'")]
    after = [f.result(timeout=30) for f in futures]
    pool.shutdown()

    def all_ended():
        rows = trace_rows(victims)
        return all(r[1] != "running" for r in rows.values()) and rows
    ended = wait_for(all_ended, timeout=10, interval=0.1)
    recovery = time.monotonic() - killed_at
    rows = trace_rows(victims)
    offsets = sorted(float(r[9]) for r in rows.values() if r[9])
    lost_after = worker_lost_count(short_sock)
    figures("SIGKILL one instance", in_flight_killed=len(victims),
            left_running=sum(1 for r in rows.values() if r[1] == "running"),
            worker_lost=sum(1 for r in rows.values() if r[2] == "worker_lost"),
            reaped_after_deadline_s="%s..%s" % (offsets[0], offsets[-1]) if offsets else "-",
            metrics_worker_lost_delta=lost_after - lost_before,
            client_statuses=sorted(s for s, _ in after), recovery_s="%.1f" % recovery)
    check(victims, "some decisions were in flight on the killed instance")
    check(ended, "the killed instance's traces were ended")
    check(all(r[2] == "worker_lost" for r in rows.values()), "worker_lost: %r" % rows)
    # Never before the trace's own deadline; within a few reaper rounds after.
    check(offsets[0] >= 0 and offsets[-1] < 2.0, "reaped at deadline_at + %r s" % offsets)
    eq(lost_after - lost_before, len(victims), "reaped decisions in keyrota_decisions_total")
    check(all(s in (200, 502) for s, _ in after), "only the killed instance's requests fail")
    stop_started()

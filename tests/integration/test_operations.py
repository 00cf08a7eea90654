"""Operating keyrota for years (README, "Operations"): the two database
roles, trace retention, key rotation on SIGHUP, upgrades with
`migrate --dry-run`, and backup and restore into a fresh cluster."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from harness import (BINARY, ROOT, TEMPLATE_DIR, VAR, check, database_url, eq, fcgi_get, get,
                     psql, request, restart_keyrota, runtime_database_url, start_fake_model,
                     stop_fake_model, supervisor_pid, test, wait_for, worker_pids, write_secret)
from harness import fake_model_control, fake_model_scenario, fcgi_ready, reload_and_wait

PGBIN = "/usr/lib/postgresql/15/bin"
SQL_DIR = os.path.join(ROOT, "sql")
FINGERPRINT_KEY = os.path.join(VAR, "secrets", "fingerprint.key")
USER = os.environ.get("KEYROTA_USER", "keyrota")
STALE = "The CI deploy key of this service account is stale."


def cli_env(url, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}
    env.update({"KEYROTA_DATABASE_URL": url, "KEYROTA_PROVIDER": "fixture",
                "KEYROTA_SQL_DIR": SQL_DIR, "KEYROTA_HTTP_PORT": os.environ["KEYROTA_HTTP_PORT"],
                "KEYROTA_FINGERPRINT_KEY_FILE": FINGERPRINT_KEY})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def keyrota(args, url, **extra):
    return subprocess.run([BINARY] + args, env=cli_env(url, **extra), capture_output=True,
                          text=True, timeout=120)


def as_runtime(sql):
    """Runs sql as the runtime role; returns (returncode, stderr)."""
    out = subprocess.run(["psql", runtime_database_url(), "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                         capture_output=True, text=True)
    return out.returncode, out.stderr


def decide(report=STALE, account="acct_10234"):
    return request("POST", "/rotation/decide", body={"account_id": account,
                                                     "credential_report": report},
                   headers={"Accept": "application/json"})


def metric(name):
    for line in get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no series %s in /metrics" % name)


# --- two database roles --------------------------------------------------

@test
def the_runtime_role_is_refused_every_forbidden_statement():
    tid = decide().json()["trace_id"]
    forbidden = [
        "INSERT INTO accounts VALUES ('acct_99999', now())",
        "UPDATE accounts SET key_created_at = now()",
        "DELETE FROM accounts",
        "TRUNCATE accounts",
        "INSERT INTO policy_lines VALUES ('P-8', 'x', 10)",
        "UPDATE policy_lines SET rotation_window_days = 90",
        "DELETE FROM policy_lines",
        "DELETE FROM traces",
        "TRUNCATE traces",
        "DELETE FROM eval_runs",
        "UPDATE eval_runs SET passed = 0",
        "INSERT INTO schema_migrations VALUES ('999_x.sql', 'x')",
        "DELETE FROM schema_migrations",
        "CREATE TABLE mine (x int)",
        "ALTER TABLE traces DROP CONSTRAINT traces_pkey",
        "DROP TABLE traces",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE TEMP TABLE traces (x int)",     # would shadow keyrota's tables
        "SET ROLE keyrota",                      # the owner of the scripts' cluster
        "CREATE ROLE someone",
        "CREATE TRIGGER t BEFORE UPDATE ON accounts FOR EACH ROW "
        "EXECUTE FUNCTION keyrota_trace_guard()",
        # identity columns of a trace are not the runtime role's to write
        "UPDATE traces SET created_at = now() - interval '400 days' WHERE trace_id = '%s'" % tid,
        "UPDATE traces SET input_fingerprint = '000000000000' WHERE trace_id = '%s'" % tid,
        # the caller's trace context is written once, with the trace
        "UPDATE traces SET otel_trace_id = '4bf92f3577b34da6a3ce929d0e0e4736', "
        "otel_parent_span_id = '00f067aa0ba902b7' WHERE trace_id = '%s'" % tid,
        "UPDATE traces SET otel_parent_span_id = NULL, otel_trace_id = NULL "
        "WHERE trace_id = '%s'" % tid,
        # an ended trace is evidence: its outcome cannot be rewritten either
        "UPDATE traces SET decision = 'not_eligible' WHERE trace_id = '%s'" % tid,
        "SELECT keyrota_expire(now(), 10)",   # cutoff inside a day: refused by the function
    ]
    for sql in forbidden:
        rc, err = as_runtime(sql)
        check(rc != 0, "the runtime role was allowed: " + sql)
        check(any(why in err for why in ("permission denied", "must be owner",
                                          "at least a day old", "has ended")),
              "%s: %s" % (sql, err))
    # ...while what serve needs still works, and nothing above changed anything.
    eq(as_runtime("SELECT count(*) FROM accounts")[0], 0)
    eq(psql("SELECT rotation_window_days FROM policy_lines WHERE line_id = 'P-7'"), [["30"]])
    eq(psql("SELECT count(*) FROM accounts WHERE account_id = 'acct_99999'"), [["0"]])
    eq(psql("SELECT status, decision, created_at > now() - interval '1 hour' FROM traces "
            "WHERE trace_id = :'p1'", tid), [["completed", "eligible", "t"]])
    eq(psql("SELECT count(*) FROM pg_tables WHERE tablename = 'mine'"), [["0"]])
    # The stack's own keyrota serve runs as that role.
    users = psql("SELECT DISTINCT usename FROM pg_stat_activity "
                 "WHERE datname = 'keyrota' AND application_name = 'keyrota'")
    eq(users, [["keyrota_app"]], "keyrota serve's pooled connections log in as keyrota_app only")


@test
def check_fails_when_the_serve_role_can_write_trusted_records():
    owner = keyrota(["check", "--eval-file", os.path.join(ROOT, "evals", "rotations.jsonl"),
                     "--readme", os.path.join(ROOT, "README.md")], database_url())
    eq(owner.returncode, 1, owner.stdout)
    line = [l for l in owner.stdout.splitlines() if "runtime role" in l]
    check(line and line[0].startswith("FAIL"), owner.stdout)
    check("accounts UPDATE" in line[0] and "policy_lines DELETE" in line[0], line[0])
    runtime = keyrota(["check", "--eval-file", os.path.join(ROOT, "evals", "rotations.jsonl"),
                       "--readme", os.path.join(ROOT, "README.md")], runtime_database_url())
    line = [l for l in runtime.stdout.splitlines() if "runtime role" in l]
    check(line and line[0].startswith("PASS"), runtime.stdout)


@test
def migrate_sets_the_grants_again_and_dry_run_changes_nothing():
    # Grants drift (an operator's mistake); migrate puts them back.
    try:
        psql("REVOKE SELECT ON accounts FROM keyrota_runtime")
        psql("GRANT DELETE ON accounts TO keyrota_runtime")
        check(as_runtime("SELECT 1 FROM accounts LIMIT 1")[0] != 0, "the revoke took")
    finally:
        out = keyrota(["migrate"], database_url())
    eq(out.returncode, 0, out.stderr)
    check("migrations applied: 0" in out.stdout, out.stdout)
    eq(as_runtime("SELECT 1 FROM accounts LIMIT 1")[0], 0, "SELECT granted again")
    rc, err = as_runtime("DELETE FROM accounts WHERE false")
    check(rc != 0 and "permission denied" in err, "DELETE revoked again: " + err)
    # A new release's migration: the dry run names it and applies nothing.
    tmp = tempfile.mkdtemp()
    try:
        for name in os.listdir(SQL_DIR):
            if name.endswith(".sql"):
                shutil.copy(os.path.join(SQL_DIR, name), tmp)
        with open(os.path.join(tmp, "900_next_release.sql"), "w") as f:
            f.write("ALTER TABLE traces ADD COLUMN next_release integer;\n")
        before = psql("SELECT count(*) FROM schema_migrations")
        out = keyrota(["migrate", "--dry-run"], runtime_database_url(), KEYROTA_SQL_DIR=tmp)
        eq(out.returncode, 0, out.stderr)
        eq(out.stdout.splitlines(), ["would apply 900_next_release.sql",
                                     "migrations pending: 1 (nothing was changed)"])
        eq(psql("SELECT count(*) FROM schema_migrations"), before)
        eq(psql("SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'traces' AND column_name = 'next_release'"), [["0"]])
        bad = keyrota(["migrate", "--dry-run", "extra"], database_url())
        eq(bad.returncode, 2, "a stray argument is a usage error")
    finally:
        shutil.rmtree(tmp)


# --- trace retention --------------------------------------------------------

def seed_old(n_traces, n_evals, days):
    """Copies of a finished trace (and eval runs) made `days` ago."""
    src = decide().json()["trace_id"]
    psql("INSERT INTO traces SELECT (jsonb_populate_record(NULL::traces, to_jsonb(t) || "
         "jsonb_build_object('trace_id', 'tr_oldseed' || lpad(i::text, 10, '0'), "
         "'idempotency_key', NULL, 'deadline_at', NULL, "
         "'created_at', now() - make_interval(days => :'p2'::int), "
         "'finished_at', now() - make_interval(days => :'p2'::int)))).* "
         "FROM traces t, generate_series(1, :'p3'::int) i WHERE t.trace_id = :'p1'",
         src, days, n_traces)
    psql("INSERT INTO eval_runs (run_id, eval_file, eval_digest, provider, model, "
         "prompt_version, started_at, finished_at, passed, failed) "
         "SELECT 'ev_oldseed' || lpad(i::text, 15, '0'), 'old.jsonl', repeat('a', 64), "
         "'fixture', 'fixture', 'rotation_decision@2', "
         "now() - make_interval(days => :'p1'::int), now() - make_interval(days => :'p1'::int), "
         "1, 0 FROM generate_series(1, :'p2'::int) i", days, n_evals)
    psql("INSERT INTO eval_case_results (run_id, case_name, passed, expected, got) "
         "SELECT run_id, 'case', true, 'x', 'x' FROM eval_runs WHERE run_id LIKE 'ev_oldseed%'")


def old_rows():
    return (int(psql("SELECT count(*) FROM traces WHERE trace_id LIKE 'tr_oldseed%'")[0][0]),
            int(psql("SELECT count(*) FROM eval_runs WHERE run_id LIKE 'ev_oldseed%'")[0][0]),
            int(psql("SELECT count(*) FROM eval_case_results "
                     "WHERE run_id LIKE 'ev_oldseed%'")[0][0]))


def rounds_logged(since):
    """The counts of each retention round the workers logged after offset since."""
    with open(os.path.join(VAR, "log", "keyrota.log")) as f:
        f.seek(since)
        lines = f.read().splitlines()
    rounds = []
    for line in lines:
        msg = json.loads(line).get("msg", "")
        if msg.startswith("retention: deleted "):
            words = msg.split()
            rounds.append((int(words[2]), int(words[5])))
    return rounds


@test
def expired_traces_and_eval_runs_go_in_batches_while_decisions_continue():
    log = os.path.join(VAR, "log", "keyrota.log")
    try:
        restart_keyrota(KEYROTA_TRACE_RETENTION_DAYS=0, KEYROTA_REAPER_INTERVAL_MS=100)
        seed_old(2500, 3, 40)
        recent = [decide().json()["trace_id"] for _ in range(3)]
        eq(old_rows(), (2500, 3, 3), "seeded")
        page = get("/admin/traces", headers={"Authorization": admin_auth()})
        check("kept until an operator deletes them" in page.text, "retention 0 is stated")
        time.sleep(1.5)   # fifteen reaper rounds in each worker
        eq(old_rows(), (2500, 3, 3), "retention 0 keeps everything")

        since = os.path.getsize(log)
        restart_keyrota(KEYROTA_TRACE_RETENTION_DAYS=30, KEYROTA_REAPER_INTERVAL_MS=500)
        expired_before = metric("keyrota_traces_expired_total")
        outcomes, errors = [], []
        stop = threading.Event()

        def keep_deciding():
            while not stop.is_set():
                try:
                    r = decide()
                    outcomes.append((r.status, r.json().get("status")))
                except Exception as e:   # a broken answer is a finding, not a dead thread
                    errors.append(repr(e))

        t = threading.Thread(target=keep_deciding)
        t.start()
        try:
            gone = wait_for(lambda: old_rows() == (0, 0, 0), timeout=30, interval=0.2)
        finally:
            stop.set()
            t.join()
        check(gone, "old rows left: %r" % (old_rows(),))
        eq(errors, [], "decisions during the purge")
        check(len(outcomes) > 3, "decisions ran during the purge")
        eq(set(outcomes), {(200, "completed")}, "every decision during the purge completed")
        eq(psql("SELECT count(*) FROM traces WHERE trace_id = ANY(:'p1'::text[])",
                "{" + ",".join(recent) + "}"), [["3"]], "recent traces stay")
        rounds = rounds_logged(since)
        check(sum(r[0] for r in rounds) >= 2500 and sum(r[1] for r in rounds) >= 3,
              "the rounds account for every row: %r" % rounds)
        check(all(r[0] <= 1000 and r[1] <= 1000 for r in rounds) and len(rounds) >= 3,
              "at most 1,000 a round: %r" % rounds)
        check(metric("keyrota_traces_expired_total") - expired_before >= 2500,
              "metric counts them")
        check(metric("keyrota_eval_runs_expired_total") >= 3, "eval runs counted")
        page = get("/admin/traces", headers={"Authorization": admin_auth()})
        check("deleted 30 days after they were made" in page.text,
              "retention stated on the page")
    finally:
        restart_keyrota()


def admin_auth():
    import base64
    with open(os.path.join(VAR, "secrets", "admin.password")) as f:
        pw = f.read().strip()
    return "Basic " + base64.b64encode(("admin:" + pw).encode()).decode()


# --- key rotation on SIGHUP ---------------------------------------------------

def trace_key(tid):
    return psql("SELECT input_fingerprint, fingerprint_key_id FROM traces WHERE trace_id = :'p1'",
                tid)[0]


@test
def sighup_rotates_the_fingerprint_key_and_old_traces_keep_theirs():
    with open(FINGERPRINT_KEY) as f:
        original = f.read()
    report = "The deploy key %s of this service account is stale." % uuid.uuid4().hex[:8]
    try:
        old = decide(report).json()["trace_id"]
        write_secret(FINGERPRINT_KEY, os.urandom(32).hex() + "\n")
        reload_and_wait()
        new = decide(report).json()["trace_id"]
        (old_fp, old_kid), (new_fp, new_kid) = trace_key(old), trace_key(new)
        check(old_kid != new_kid, "a new key id: %s vs %s" % (old_kid, new_kid))
        check(old_fp != new_fp, "the same report, another fingerprint under the new key")
        eq(trace_key(old), [old_fp, old_kid], "the old trace keeps its key id")
        # A key file that cannot be used: the reload is refused, nothing changes.
        os.chmod(FINGERPRINT_KEY, 0o644)
        before = worker_pids()
        log = os.path.join(VAR, "log", "keyrota.log")
        start = os.path.getsize(log)

        def new_log():
            with open(log) as f:
                f.seek(start)
                return f.read()
        os.kill(supervisor_pid(), signal.SIGHUP)
        logged = wait_for(lambda: "reload refused" in new_log(), timeout=10)
        check(logged, "the refused reload is logged")
        eq(worker_pids(), before, "the running workers stay")
        eq(trace_key(decide(report).json()["trace_id"])[1], new_kid, "still the new key")
    finally:
        write_secret(FINGERPRINT_KEY, original)
        reload_and_wait()


@test
def sighup_rotates_the_model_key_while_a_decision_finishes_with_the_old_one():
    old_key, new_key = "sk-old-" + uuid.uuid4().hex, "sk-new-" + uuid.uuid4().hex
    fake = start_fake_model("ops", old_key)
    key_file, port = fake["key_file"], fake["port"]
    try:
        restart_keyrota(KEYROTA_PROVIDER="openai", KEYROTA_MODEL="gpt-test",
                        KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % port,
                        KEYROTA_MODEL_KEY_FILE=key_file, KEYROTA_MODEL_TIMEOUT_MS=8000)
        fake_model_scenario(fake, "delay_by_model", delays={"gpt-test": 2500})
        slow = {}
        t = threading.Thread(target=lambda: slow.setdefault("r", decide()))
        t.start()
        check(wait_for(lambda: len(fake_model_control(fake, "/__requests")) == 1, timeout=5),
              "call in flight")
        write_secret(key_file, new_key + "\n")
        reload_and_wait()
        fake_model_control(fake, "/__control", {"scenario": "success"})
        fresh = decide()
        t.join(timeout=15)
        eq((fresh.status, fresh.json()["status"]), (200, "completed"))
        eq((slow["r"].status, slow["r"].json()["status"]), (200, "completed"),
           "the decision in flight across the reload finished")
        auth = [r["headers"].get("Authorization") for r in fake_model_control(fake, "/__requests")]
        eq(auth, ["Bearer " + old_key, "Bearer " + new_key], "old key first, then the new one")
    finally:
        stop_fake_model(fake)
        restart_keyrota()
        os.unlink(key_file)


# --- backup and restore -------------------------------------------------------

def as_service_user(args, **kw):
    return subprocess.run(["runuser", "-u", USER, "--"] + args, capture_output=True, text=True,
                          cwd="/", **kw)


@test
def a_dump_restores_into_a_fresh_cluster_that_keyrota_serves():
    tid = decide().json()["trace_id"]
    run_id = "ev_" + uuid.uuid4().hex[:22]
    psql("INSERT INTO eval_runs (run_id, eval_file, eval_digest, provider, model, "
         "prompt_version, started_at, finished_at, passed, failed) VALUES "
         "(:'p1', 'b.jsonl', repeat('b', 64), 'fixture', 'fixture', "
         "'rotation_decision@2', now(), now(), 23, 0)", run_id)
    tmp = tempfile.mkdtemp(prefix="keyrota-restore-")
    uid = pwd.getpwnam(USER)
    os.chown(tmp, uid.pw_uid, uid.pw_gid)
    os.chmod(tmp, 0o755)
    data, sock_dir = os.path.join(tmp, "pg"), os.path.join(tmp, "run")
    os.mkdir(sock_dir)
    os.chown(sock_dir, uid.pw_uid, uid.pw_gid)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    dump = os.path.join(tmp, "keyrota.dump")
    serve = None
    try:
        # The README's procedure, step by step.
        out = subprocess.run(["pg_dump", "-Fc", "-f", dump, database_url()],
                             capture_output=True, text=True)
        eq(out.returncode, 0, out.stderr)
        out = as_service_user([PGBIN + "/initdb", "-D", data, "-U", USER, "--auth-local=trust",
                               "--auth-host=reject", "-E", "UTF8", "--locale=C.UTF-8"])
        eq(out.returncode, 0, out.stderr)
        out = as_service_user([PGBIN + "/pg_ctl", "-D", data, "-l", os.path.join(tmp, "pg.log"),
                               "-w", "-o", "-c listen_addresses='' -k %s -p %d" % (sock_dir, port),
                               "start"])
        eq(out.returncode, 0, out.stderr)
        base = "host=%s port=%d" % (sock_dir, port)
        # The roles and the database as in the README's "Install on Debian".
        admin = base + " dbname=postgres user=" + USER
        out = subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-q",
                              "-c", "CREATE ROLE keyrota_owner NOLOGIN",
                              "-c", "CREATE ROLE keyrota_runtime NOLOGIN",
                              "-c", "CREATE ROLE keyrota_app LOGIN IN ROLE keyrota_runtime",
                              "-c", "CREATE DATABASE keyrota OWNER keyrota_owner"],
                             capture_output=True, text=True)
        eq(out.returncode, 0, out.stderr)
        owner = base + " dbname=keyrota user=%s options='-c role=keyrota_owner'" % USER
        out = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "-d", owner, dump],
                             capture_output=True, text=True)
        eq(out.returncode, 0, out.stderr)
        out = keyrota(["migrate"], owner)
        eq(out.returncode, 0, out.stderr)
        check("migrations applied: 0" in out.stdout, "nothing to apply: " + out.stdout)
        eq(subprocess.run(["psql", owner, "-Atqc", "SELECT pg_get_userbyid(proowner) FROM pg_proc "
                           "WHERE proname = 'keyrota_expire'"], capture_output=True,
                          text=True).stdout.strip(), "keyrota_owner", "the restored function's owner")
        runtime = base + " dbname=keyrota user=keyrota_app"
        out = keyrota(["check", "--eval-run", run_id,
                       "--readme", os.path.join(ROOT, "README.md")], runtime,
                      KEYROTA_CHECK_URL="http://127.0.0.1:%s" % os.environ["KEYROTA_HTTP_PORT"])
        eq(out.returncode, 0, out.stdout + out.stderr)
        for name in ("migrations current", "runtime role", "database reachable"):
            check("PASS " + name in out.stdout, out.stdout)
        # A keyrota serving the restored database finds the trace.
        sock = os.path.join(sock_dir, "keyrota.sock")
        env = cli_env(runtime, KEYROTA_WORKERS=1, KEYROTA_THREADS=2, KEYROTA_USER=USER,
                      KEYROTA_TEMPLATE_DIR=TEMPLATE_DIR, KEYROTA_LISTEN="unix:" + sock)
        with open(os.path.join(tmp, "serve.log"), "w") as serve_log:
            serve = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=serve_log)
        check(wait_for(lambda: fcgi_ready(sock), timeout=15), "restored keyrota did not start")
        raw = fcgi_get(sock, "/admin/traces/" + tid, {"KEYROTA_AUTH_USER": "admin",
                                                       "HTTP_ACCEPT": "application/json"})
        head, _, payload = raw.partition(b"\r\n\r\n")
        check(b"Status: 200" in head, "admin lookup on the restored database: %r" % raw[:300])
        body = json.loads(payload)
        eq((body["trace_id"], body["status"]), (tid, "completed"), "the restored trace")
    finally:
        try:
            if serve is not None:
                serve.send_signal(signal.SIGTERM)
                try:
                    serve.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    serve.kill()
                    serve.wait()
        finally:
            as_service_user([PGBIN + "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
            shutil.rmtree(tmp, ignore_errors=True)


# --- upgrades ----------------------------------------------------------------

@test
def migrations_only_add_so_the_running_release_keeps_working():
    """README, "Upgrades": a migration adds; removing waits for a later
    release, and then says so with a `-- keyrota: contract` line."""
    import re
    destructive = re.compile(r"\bDROP\s+(TABLE|COLUMN|FUNCTION|INDEX|CONSTRAINT|VIEW)\b"
                             r"|\bALTER\s+TABLE\s+[\w.]+\s+DROP\b"
                             r"|\bADD\s+COLUMN\s+[^;,]*\bNOT\s+NULL\b(?![^;,]*\bDEFAULT\b)"
                             r"|\bRENAME\s+(COLUMN|TO)\b"
                             r"|\bALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE\b"
                             r"|\bSET\s+NOT\s+NULL\b", re.I)
    names = sorted(n for n in os.listdir(SQL_DIR) if re.match(r"^\d{3}_.*\.sql$", n))
    check(len(names) >= 4, "the migrations are found: %r" % names)
    for name in names:
        with open(os.path.join(SQL_DIR, name)) as f:
            text = f.read()
        code = "\n".join(l.split("--", 1)[0] for l in text.splitlines())
        hits = destructive.findall(code)
        check(not hits or "-- keyrota: contract" in text,
              "%s removes or changes something the running release may use: %r" % (name, hits))

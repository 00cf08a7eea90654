"""Foundation: health, readiness, errors, the worker pool, migrations."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

from harness import (BINARY, ROOT, TEMPLATE_DIR, VAR, check, database_url, eq, fcgi_get,
                     fcgi_request, psql, db_now,
                     from_each_worker, get, get_json, request, restart_keyrota,
                     running_traces, stack, supervisor_pid, test, wait_for, worker_pids)


@test
def healthz_answers_ok_with_request_id():
    r = get("/healthz")
    eq(r.status, 200, "status")
    eq(r.json(), {"status": "ok"}, "body")
    eq(r.headers.get("content-type"), "application/json")
    check(len(r.headers.get("x-request-id", "")) >= 16, "X-Request-Id missing")


@test
def every_response_has_a_distinct_request_id():
    ids = {get(p).headers.get("x-request-id") for p in ("/healthz", "/readyz", "/nope", "/healthz")}
    eq(len(ids), 4, "distinct request ids")


@test
def readyz_follows_postgresql_without_restarting_keyrota():
    before = supervisor_pid()
    eq(get("/readyz").status, 200, "ready before")
    stack("pg-stop")
    try:
        r = get("/readyz")
        eq(r.status, 503, "ready while PostgreSQL is down")
        eq(r.json()["error_code"], "database_unavailable")
        eq(get("/healthz").status, 200, "liveness does not touch the database")
    finally:
        stack("pg-start")
    check(wait_for(lambda: get("/readyz").status == 200, timeout=10), "ready again after restart")
    # Every worker's pooled connections recover, not just one: each worker
    # in turn is the only one that can accept.
    answers = from_each_worker("/readyz", headers={"Accept": "application/json"}, timeout=10)
    check(len(answers) >= 2, "at least two workers: %r" % answers)
    for pid, r in answers:
        eq(r.status, 200, "worker %d ready again: %s" % (pid, r.text))
    eq(supervisor_pid(), before, "keyrota was not restarted")


@test
def unknown_path_is_404_in_json_or_html_by_accept():
    r = get_json("/no/such/page")
    eq(r.status, 404)
    eq(r.json()["error_code"], "not_found")
    r = get("/no/such/page", headers={"Accept": "text/html"})
    eq(r.status, 404)
    check(r.headers["content-type"].startswith("text/html"), "HTML 404")
    check("<h1>" in r.text, "HTML body")


@test
def wrong_method_is_405_with_allow():
    r = request("DELETE", "/healthz", headers={"Accept": "application/json"})
    eq(r.status, 405)
    eq(r.headers.get("allow"), "GET")
    eq(r.json()["error_code"], "method_not_allowed")


@test
def body_over_16k_is_413():
    r = request("POST", "/rotation/decide", body=b"x" * (16 * 1024 + 1),
                headers={"Content-Type": "application/json"})
    eq(r.status, 413)
    eq(r.json()["error_code"], "payload_too_large")


@test
def keyrota_itself_refuses_a_body_over_16k():
    # Straight to the FastCGI socket: nginx's limit never runs, so this is
    # keyrota's own check. A valid decision, padded with JSON whitespace.
    sock = os.path.join(VAR, "run", "keyrota.sock")
    body = json.dumps({"account_id": "acct_10234",
                       "credential_report": "The CI deploy key is stale."}).encode()
    before = psql("SELECT count(*) FROM traces")[0][0]
    params = {"CONTENT_TYPE": "application/json", "HTTP_ACCEPT": "application/json"}
    out = fcgi_request(sock, "POST", "/rotation/decide", body + b" " * (16 * 1024 + 1 - len(body)),
                       params).decode("utf-8", "replace")
    check(out.startswith("Status: 413"), out[:300])
    check('"payload_too_large"' in out, out[:300])
    # The same body without the padding is decided: the limit, not the
    # content, refused it.
    out = fcgi_request(sock, "POST", "/rotation/decide", body, params).decode("utf-8", "replace")
    check(out.startswith("Status: 200") and '"completed"' in out, out[:300])
    eq(int(psql("SELECT count(*) FROM traces")[0][0]), int(before) + 1, "one trace, not two")


@test
def socket_is_mode_0660_owned_by_service_user():
    st = os.stat(os.path.join(VAR, "run", "keyrota.sock"))
    check(stat.S_ISSOCK(st.st_mode), "is a socket")
    eq(stat.S_IMODE(st.st_mode), 0o660, "socket mode")
    import pwd
    eq(pwd.getpwuid(st.st_uid).pw_name, os.environ.get("KEYROTA_USER", "keyrota"), "socket owner")


def _status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        return [l for l in f if l.startswith(field + ":")][0].split()[1:]


@test
def workers_run_unprivileged():
    import pwd
    service = str(pwd.getpwnam(os.environ.get("KEYROTA_USER", "keyrota")).pw_uid)
    for pid in worker_pids():
        uids = _status(pid, "Uid")
        eq(uids, [service] * 4, "worker %d's real, effective, saved and fs uids" % pid)
        eq(_status(pid, "CapEff"), ["0000000000000000"], "worker %d has no capabilities" % pid)
    # The supervisor reads no request; it keeps root only to read root-only
    # key files again on SIGHUP (README, "Rotating keys"), and its real uid
    # is the service user's, so its workers may signal it.
    eq(_status(supervisor_pid(), "Uid")[0], service, "the supervisor's real uid")


@test
def killed_worker_is_replaced_and_service_keeps_answering():
    before = worker_pids()
    check(len(before) >= 2, "at least two workers: %r" % before)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    after = wait_for(lambda: (lambda p: p if len(p) == len(before) and victim not in p else None)(worker_pids()),
                     timeout=3)
    check(after, "worker %d not replaced" % victim)
    check(time.monotonic() - started < 1.5, "replaced within a second")
    for _ in range(20):
        eq(get("/healthz").status, 200, "service answers after the kill")


@test
def a_worker_that_keeps_dying_young_is_replaced_with_growing_delays():
    gaps = []
    victim = worker_pids()[0]
    for _ in range(3):
        others = set(worker_pids()) - {victim}
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        fresh = wait_for(lambda: (lambda p: p if p and len(p) == len(others) + 1 and
                                  victim not in p else None)(worker_pids()), timeout=5)
        check(fresh, "not replaced")
        gaps.append(time.monotonic() - killed)
        victim = (set(fresh) - others).pop()
    check(gaps[0] < 1.0, "first replacement within a second: %r" % gaps)
    check(gaps[1] >= 0.2 and gaps[2] >= 0.45, "backoff grows (250, 500 ms): %r" % gaps)
    check(gaps[2] > gaps[1] > gaps[0], "each wait longer than the last: %r" % gaps)
    for _ in range(5):
        eq(get("/healthz").status, 200)


@test
def sighup_replaces_every_worker_without_dropping_requests():
    # A decision that takes 1.5 s (the fixture's simulated model) is in
    # flight across the reload, while /healthz is hammered.
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=1500)
    try:
        before = worker_pids()
        sup = supervisor_pid()
        statuses = []
        decision = {}
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                statuses.append(get("/healthz").status)

        def decide():
            decision["r"] = request(
                "POST", "/rotation/decide", timeout=30,
                body={"account_id": "acct_10234",
                      "credential_report": "The CI deploy key is stale (reload test)."},
                headers={"Accept": "application/json"})

        since = db_now()
        t = threading.Thread(target=hammer)
        d = threading.Thread(target=decide)
        t.start()
        d.start()
        try:
            check(wait_for(lambda: running_traces(since) and len(statuses) > 3, timeout=5),
                  "the decision never started running")
            os.kill(sup, signal.SIGHUP)
            fresh = wait_for(lambda: (lambda p: p if len(p) == len(before) and
                                      not set(p) & set(before) else None)(worker_pids()),
                             timeout=10)
            d.join(timeout=20)
            seen = len(statuses)
            check(wait_for(lambda: len(statuses) > seen + 3, timeout=5),
                  "the new workers answer")
        finally:
            stop.set()
            t.join()
            d.join(timeout=20)
        check(fresh, "old workers still serving: %r -> %r" % (before, worker_pids()))
        eq(supervisor_pid(), sup, "the supervisor stays")
        check(len(statuses) > 10, "requests were made during the reload")
        eq(set(statuses), {200}, "no request failed during the reload")
        r = decision.get("r")
        check(r is not None, "the decision in flight got no answer")
        eq((r.status, r.json()["status"], r.json()["decision"]), (200, "completed", "eligible"),
           r.text)
    finally:
        restart_keyrota()


@test
def worker_is_recycled_after_max_requests_without_failed_requests():
    restart_keyrota(KEYROTA_MAX_REQUESTS=5, KEYROTA_WORKERS=1)
    try:
        first = worker_pids()
        eq(len(first), 1, "one worker")
        statuses = [get("/healthz").status for _ in range(12)]
        eq(statuses, [200] * 12, "no request fails across recycling")
        # The replacement starts first; the old worker then drains and exits.
        later = wait_for(lambda: (lambda p: p if p and first[0] not in p else None)(worker_pids()),
                         timeout=5)
        check(later and first[0] not in later, "worker recycled")
    finally:
        restart_keyrota()


@test
def sigterm_stops_the_pool_and_leaves_no_orphans():
    sup = supervisor_pid()
    workers = worker_pids()
    stack("keyrota-stop")
    try:
        for pid in [sup] + workers:
            check(not os.path.exists("/proc/%d" % pid), "process %d survived SIGTERM" % pid)
        check(not os.path.exists(os.path.join(VAR, "run", "keyrota.sock")), "socket removed")
        eq(get("/healthz").status, 502, "nothing serves after stop")
    finally:
        restart_keyrota()


def run_binary(args, env_extra, timeout=10):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}
    env.update(env_extra)
    return subprocess.run([BINARY] + args, env=env, capture_output=True, text=True, timeout=timeout)


@test
def bad_configuration_exits_2_naming_the_variable():
    for name, value in [("KEYROTA_WORKERS", "0"), ("KEYROTA_THREADS", "lots"),
                        ("KEYROTA_LISTEN", "nowhere"), ("KEYROTA_PROVIDER", "magic"),
                        ("KEYROTA_MODEL_TIMEOUT_MS", "-5")]:
        out = run_binary(["serve"], {name: value})
        eq(out.returncode, 2, name + " exit status")
        check(name in out.stderr, "%s named in %r" % (name, out.stderr))


@test
def unsafe_or_missing_fingerprint_key_refuses_to_start():
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "fp.key")
        with open(key, "w") as f:
            f.write("0123456789abcdef\n")
        os.chmod(key, 0o644)
        out = run_binary(["serve"], {"KEYROTA_FINGERPRINT_KEY_FILE": key})
        eq(out.returncode, 2)
        check("KEYROTA_FINGERPRINT_KEY_FILE" in out.stderr and "group or others" in out.stderr,
              out.stderr)
        check("0123456789abcdef" not in out.stderr, "key content in the message")
        out = run_binary(["serve"], {"KEYROTA_FINGERPRINT_KEY_FILE": key + ".missing"})
        eq(out.returncode, 2)
        check("KEYROTA_FINGERPRINT_KEY_FILE" in out.stderr, out.stderr)


@test
def a_broken_template_refuses_to_start_naming_file_and_line():
    with tempfile.TemporaryDirectory() as tmp:
        for name in os.listdir(os.path.join(ROOT, "templates")):
            shutil.copy(os.path.join(ROOT, "templates", name), tmp)
        with open(os.path.join(tmp, "form.html"), "a") as f:
            f.write("\n{{#unclosed}}\n")
        out = run_binary(["serve"], {
            "KEYROTA_FINGERPRINT_KEY_FILE": os.path.join(VAR, "secrets", "fingerprint.key"),
            "KEYROTA_TEMPLATE_DIR": tmp})
        eq(out.returncode, 2)
        check("KEYROTA_TEMPLATE_DIR" in out.stderr and "form.html:" in out.stderr and
              "never closed" in out.stderr, out.stderr)


@test
def cli_version_help_and_unknown_command():
    out = run_binary(["version"], {})
    eq(out.returncode, 0)
    check(out.stdout.startswith("keyrota "), out.stdout)
    out = run_binary(["--help"], {})
    eq(out.returncode, 0)
    check("serve" in out.stdout and "migrate" in out.stdout, out.stdout)
    eq(run_binary(["frobnicate"], {}).returncode, 2)


@test
def migrate_is_idempotent_and_refuses_changed_files():
    url = database_url()
    out = run_binary(["migrate"], {"KEYROTA_DATABASE_URL": url, "KEYROTA_SQL_DIR": os.path.join(ROOT, "sql")})
    eq(out.returncode, 0, out.stderr)
    check("migrations applied: 0" in out.stdout, out.stdout)
    with tempfile.TemporaryDirectory() as tmp:
        for name in os.listdir(os.path.join(ROOT, "sql")):
            if name.endswith(".sql"):
                shutil.copy(os.path.join(ROOT, "sql", name), tmp)
        with open(os.path.join(tmp, "001_initial.sql"), "a") as f:
            f.write("\n-- edited after it was applied\n")
        out = run_binary(["migrate"], {"KEYROTA_DATABASE_URL": url, "KEYROTA_SQL_DIR": tmp})
        eq(out.returncode, 1, "exit status for a changed migration")
        check("001_initial.sql has changed" in out.stderr, out.stderr)


def listening_unix_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


def serve_on_inherited_socket(extra_env, pass_fd, use_stdin):
    """Starts `keyrota serve` with a listening socket it did not create."""
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "handoff.sock")
    lsock = listening_unix_socket(path)
    env = {"KEYROTA_WORKERS": "1", "KEYROTA_THREADS": "2", "KEYROTA_USER": "keyrota",
           "KEYROTA_DATABASE_URL": database_url(),
           "KEYROTA_FINGERPRINT_KEY_FILE": os.path.join(VAR, "secrets", "fingerprint.key"),
           "KEYROTA_TEMPLATE_DIR": TEMPLATE_DIR,
           "KEYROTA_LISTEN": "unix:" + os.path.join(tmp, "unused.sock")}
    env.update(extra_env)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("KEYROTA_", "LISTEN_"))}
    full.update(env)
    if use_stdin:
        proc = subprocess.Popen([BINARY, "serve"], stdin=lsock.fileno(), env=full,
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
    else:
        # systemd style: the socket on fd 3, LISTEN_PID naming the server.
        fd = lsock.fileno()
        full["LISTEN_FDS"] = "1"
        proc = subprocess.Popen(["/bin/sh", "-c", 'exec 3<&"$1"; LISTEN_PID=$$ exec "$0" serve',
                                 BINARY, str(fd)],
                                stdin=subprocess.DEVNULL, env=full, pass_fds=(fd,),
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
    lsock.close()
    os.chmod(tmp, 0o755)
    os.chmod(path, 0o666)
    return proc, tmp, path


def stop(proc, tmp):
    proc.send_signal(signal.SIGTERM)
    status = proc.wait(timeout=15)
    with open(os.path.join(tmp, "serve.log")) as f:
        log = f.read()
    eq(status, 0, "clean exit; log: " + log[-600:])
    return log


@test
def serves_on_a_socket_handed_over_on_fd_0():
    proc, tmp, path = serve_on_inherited_socket({}, None, use_stdin=True)
    try:
        out = wait_for(lambda: _try_fcgi(path), timeout=5)
        check(out and b"Status: 200" in out and b'{"status":"ok"}' in out, repr(out))
        check(not os.path.exists(os.path.join(tmp, "unused.sock")), "KEYROTA_LISTEN not used")
    finally:
        stop(proc, tmp)
    # keyrota leaves a socket it was handed to its owner: it did not bind it.
    try:
        check(os.path.exists(path), "keyrota removed the socket it inherited")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def serves_on_a_systemd_activated_socket():
    proc, tmp, path = serve_on_inherited_socket({}, None, use_stdin=False)
    try:
        out = wait_for(lambda: _try_fcgi(path), timeout=5)
        check(out and b"Status: 200" in out, repr(out))
        check(not os.path.exists(os.path.join(tmp, "unused.sock")), "KEYROTA_LISTEN not used")
    finally:
        stop(proc, tmp)
    try:
        check(os.path.exists(path), "keyrota removed the socket systemd handed it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _try_fcgi(path):
    try:
        return fcgi_get(path, "/healthz")
    except OSError:
        return None


@test
def logs_are_json_lines_without_bodies():
    marker = "secret-report-text-%d" % time.time_ns()
    request("POST", "/rotation/decide", body=json.dumps({"credential_report": marker}),
            headers={"Content-Type": "application/json"})
    rid = get("/healthz").headers["x-request-id"]

    def read():
        with open(os.path.join(VAR, "log", "keyrota.log")) as f:
            text = f.read()
        return text.splitlines() if rid in text else None

    lines = wait_for(read, timeout=5)
    check(lines, "no log line for request %s" % rid)
    check(marker not in "\n".join(lines), "request body leaked into the log")
    mine = [json.loads(l) for l in lines if rid in l]
    eq(len(mine), 1, "one access line for the request")
    entry = mine[0]
    for key in ("time", "level", "request_id", "method", "route", "status", "duration_ms"):
        check(key in entry, "log field %s" % key)
    eq(entry["route"], "/healthz")
    eq(entry["status"], 200)

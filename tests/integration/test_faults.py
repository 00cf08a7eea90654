"""Fault injection: PostgreSQL restarted, blackholed, stopped and locked;
workers killed, stopped and recycled under load. Faults are injected at real
boundaries: the TCP fault proxy (tests/lib/fault_proxy.py) between keyrota
and PostgreSQL, signals to real processes, a real row lock. Each scenario
prints what it measured as one "measured:" line."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

from fault_proxy import FaultProxy
from harness import (VAR, check, eq, get, psql, request, restart_keyrota, stack,
                     start_fake_model, stop_fake_model, supervisor_pid, test, wait_for,
                     worker_pids)

STALE = "The CI deploy key for this service account is stale."
PG_PORT = int(os.environ.get("KEYROTA_PG_PORT", "5432"))
PG_SOCKET = os.path.join(VAR, "pg-run", ".s.PGSQL.%d" % PG_PORT)
# A decision's database step gives up after this (README, "Faults"):
# the wait for a connection plus one statement.
DB_WAIT_S = 2.5


def decide(key=None, account="acct_10234", timeout=60):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        h["Idempotency-Key"] = key
    started = time.monotonic()
    try:
        r = request("POST", "/rotation/decide",
                    body=json.dumps({"account_id": account, "credential_report": STALE}).encode(),
                    headers=h, timeout=timeout)
    except OSError as e:
        return {"status": 0, "error": repr(e), "sent": started, "took": time.monotonic() - started}
    out = {"status": r.status, "sent": started, "took": time.monotonic() - started}
    try:
        body = r.json()
        out["trace_id"] = body.get("trace_id")
        out["error_code"] = body.get("error_code")
    except ValueError:
        pass
    return out


class Load:
    """n clients posting decisions back to back until stopped."""

    def __init__(self, n, pause=0.02):
        self.results = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pause = pause
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(n)]

    def _client(self):
        while not self._stop.is_set():
            r = decide(timeout=60)
            with self._lock:
                self.results.append(r)
            time.sleep(self._pause)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(90)

    def __exit__(self, *exc):
        self.stop()

    def snapshot(self):
        with self._lock:
            return list(self.results)


class Prober:
    """GET /healthz every interval; records the slowest answer."""

    def __init__(self, interval=0.1):
        self.times = []
        self.failures = 0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                ok = get("/healthz", timeout=10).status == 200
            except OSError:
                ok = False
            self.times.append(time.monotonic() - t0)
            if not ok:
                self.failures += 1
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)


def measured(name, **figures):
    print("measured: %s: %s" % (name, ", ".join("%s=%s" % kv for kv in figures.items())))


def pg_url_via(port):
    return "host=127.0.0.1 port=%d dbname=keyrota user=keyrota" % port


def trace_states(ids):
    ids = [i for i in ids if i]
    if not ids:
        return {}
    rows = psql("SELECT trace_id, status FROM traces WHERE trace_id = ANY(string_to_array(:'p1', ','))",
                ",".join(ids))
    return dict((r[0], r[1]) for r in rows)


def running_count(since):
    return int(psql("SELECT count(*) FROM traces WHERE status = 'running' "
                    "AND created_at >= to_timestamp(:'p1'::float8)", repr(since))[0][0])


def in_flight_gauge():
    for line in get("/metrics").text.splitlines():
        if line.startswith("keyrota_decisions_in_flight "):
            return int(line.split()[1])
    raise AssertionError("no keyrota_decisions_in_flight in /metrics")


def postgres_pids():
    with open(os.path.join(VAR, "pg", "postmaster.pid")) as f:
        pm = int(f.readline())
    out = subprocess.run(["pgrep", "-P", str(pm)], capture_output=True, text=True).stdout
    return [pm] + [int(p) for p in out.split()]


def lock_trace(trace_id, seconds):
    """Holds FOR UPDATE on the trace's row for seconds, in a psql of its own."""
    from harness import database_url
    sql = ("BEGIN; SELECT trace_id FROM traces WHERE trace_id = '%s' FOR UPDATE; "
           "SELECT pg_sleep(%s); COMMIT;" % (trace_id, seconds))
    return subprocess.Popen(["psql", database_url(), "-qAt", "-c", sql],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_key(key, timeout=10):
    rows = wait_for(lambda: psql("SELECT trace_id FROM traces WHERE idempotency_key = :'p1'", key),
                    timeout=timeout, interval=0.02)
    check(rows, "the running row of %s appeared" % key)
    return rows[0][0]


def in_background(fn, *args):
    box = {}
    t = threading.Thread(target=lambda: box.update(r=fn(*args)), daemon=True)
    t.start()
    return t, box


@test
def postgres_restart_under_64_clients_gives_no_false_503():
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=100)
    sup, workers = supervisor_pid(), worker_pids()
    since = time.time()
    with Load(64, pause=0.05) as load:
        time.sleep(2)
        stack("pg-stop")
        stack("pg-start")
        back = time.monotonic()
        first_ok = wait_for(lambda: min([r["sent"] for r in load.snapshot()
                                         if r["status"] == 200 and r["sent"] > back] or [0]),
                            timeout=15)
        time.sleep(5)
    results = load.results
    check(first_ok, "a decision succeeded after the restart")
    false_503 = [r for r in results if r["status"] == 503 and r["sent"] > first_ok]
    ids = [r.get("trace_id") for r in results if r.get("trace_id")]
    states = wait_for(lambda: (lambda s: s if all(v != "running" for v in s.values()) else None)(
        trace_states(ids)), timeout=15) or trace_states(ids)
    lost = [i for i in ids if i not in states]
    running = [i for i, s in states.items() if s == "running"]
    ready = [get("/readyz").status for _ in range(20)]
    measured("postgres restart, 64 clients", sent=len(results),
             failed=sum(1 for r in results if r["status"] != 200), false_503=len(false_503),
             traces_lost=len(lost), traces_running=len(running),
             recovery_s="%.2f" % (first_ok - back),
             statuses=sorted(set(r["status"] for r in results)))
    eq(len(false_503), 0, "503s after the first decision that succeeded")
    # 202: a decision whose terminal write was still being retried when its
    # answer was due; its trace id must end terminal all the same (below).
    eq(sorted(set(r["status"] for r in results) - {200, 202, 503}), [], "no other statuses")
    eq(lost, [], "every trace id a client got exists")
    eq(running, [], "every trace id a client got is terminal")
    check(first_ok - back <= 10, "recovered within 10 s")
    eq(ready, [200] * 20, "/readyz on every worker")
    eq(supervisor_pid(), sup, "keyrota not restarted")
    eq(worker_pids(), workers, "no worker restarted")
    check(running_count(since) == 0 or wait_for(lambda: running_count(since) == 0, timeout=5),
          "no trace of the run left running")


@test
def connections_closed_by_the_server_give_no_false_503():
    """What a restart leaves behind, without the outage: every pooled
    connection was closed by the server while idle."""
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=300)
    with Load(32, pause=0) as load:
        time.sleep(2)
    eq(set(r["status"] for r in load.results), {200}, "warm-up decisions")
    pooled = int(psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'keyrota'")[0][0])
    check(pooled >= 4, "the pools hold idle connections: %d" % pooled)
    psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
         "WHERE application_name = 'keyrota'")
    time.sleep(0.2)
    statuses = []
    for _ in range(10):
        statuses.append(get("/readyz").status)
        statuses.append(decide()["status"])
    measured("idle connections closed by the server", pooled=pooled,
             requests=len(statuses), failed=sum(1 for s in statuses if s != 200))
    eq(statuses, [200] * 20, "/readyz and decisions right after")


@test
def postgres_blackholed_for_20s_fails_fast_and_recovers():
    proxy = FaultProxy(("unix", PG_SOCKET)).start()
    try:
        restart_keyrota(KEYROTA_DATABASE_URL=pg_url_via(proxy.port), KEYROTA_MODEL_TIMEOUT_MS=3000,
                        KEYROTA_REAPER_GRACE_MS=2000, KEYROTA_REAPER_INTERVAL_MS=500)
        eq(decide()["status"], 200, "a decision through the proxy")
        since = time.time()
        with Prober() as probe, Load(16, pause=0.05) as load:
            time.sleep(2)
            proxy.set_blackhole()
            holed = time.monotonic()
            time.sleep(20)
            proxy.set_pass()
            healed = time.monotonic()
            first_ok = wait_for(lambda: min([r["sent"] for r in load.snapshot()
                                             if r["status"] == 200 and r["sent"] > healed] or [0]),
                                timeout=20)
            time.sleep(2)
        results = load.results
        during = [r for r in results if r["sent"] > holed + DB_WAIT_S + 3 and
                  r["sent"] + r["took"] < healed]
        slow = [r for r in during if r["took"] > DB_WAIT_S + 1]
        statuses = sorted(set(r["status"] for r in results))
        measured("postgres blackholed 20 s, 16 clients", sent=len(results),
                 failed=sum(1 for r in results if r["status"] != 200),
                 during=len(during), slowest_during_s="%.2f" % max([r["took"] for r in during] or [0]),
                 healthz_max_ms="%.0f" % (1000 * max(probe.times)),
                 healthz_probes=len(probe.times), recovery_s="%.2f" % ((first_ok or healed) - healed),
                 statuses=statuses, codes_during=sorted(set(r.get("error_code") or "" for r in during)))
        eq(probe.failures, 0, "/healthz failures")
        check(max(probe.times) < 1.0, "/healthz stays prompt: %.3f s" % max(probe.times))
        check(len(during) > 10, "decisions were posted during the blackhole")
        eq(set(r["status"] for r in during), {503}, "decisions during the blackhole")
        eq(set(r.get("error_code") for r in during), {"database_unavailable"}, "error code")
        eq(slow, [], "fail within the documented wait")
        check(first_ok and first_ok - healed <= 10, "recovered within 10 s")
        check(not set(statuses) - {200, 202, 503}, "no 5xx from nginx: %r" % statuses)
        ids = [r.get("trace_id") for r in results if r.get("trace_id")]
        states = wait_for(lambda: (lambda s: s if all(v != "running" for v in s.values())
                                   else None)(trace_states(ids)), timeout=15) or trace_states(ids)
        eq([i for i in ids if i not in states], [], "traces lost")
        eq([i for i, s in states.items() if s == "running"], [], "traces left running")
        check(wait_for(lambda: running_count(since) == 0, timeout=15), "no trace left running")
    finally:
        proxy.stop()
        restart_keyrota()


@test
def healthz_answers_at_once_while_postgres_is_stopped():
    restart_keyrota()
    pids = postgres_pids()
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        posts = [in_background(decide) for _ in range(40)]
        time.sleep(1.0)
        times = []
        for _ in range(10):
            t0 = time.monotonic()
            eq(get("/healthz", timeout=10).status, 200, "/healthz")
            times.append(time.monotonic() - t0)
            time.sleep(0.1)
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)
    for t, _ in posts:
        t.join(60)
    statuses = sorted(set(box["r"]["status"] for _, box in posts))
    measured("postgres SIGSTOPped, 40 decisions", healthz_max_ms="%.0f" % (1000 * max(times)),
             decision_statuses=statuses)
    check(max(times) < 0.5, "/healthz took %.3f s" % max(times))
    check(not set(statuses) - {200, 202, 503}, "no 5xx from nginx: %r" % statuses)


def stuck_database(label, start, stop):
    """Decisions sent all along while the database is stuck (start() to
    stop()): each is answered database_unavailable within the documented
    wait, including those whose start step waited its turn in the queue
    while the pool cut and reopened its connections."""
    restart_keyrota()
    start()
    try:
        time.sleep(0.5)
        stuck = time.monotonic()
        with Load(48, pause=0.05) as load:
            time.sleep(10)
        results = [r for r in load.results if r["sent"] >= stuck and
                   r["sent"] + r["took"] < stuck + 11]
    finally:
        stop()
    codes = sorted(set(r.get("error_code") or str(r["status"]) for r in results))
    measured(label, sent=len(results), codes=codes,
             slowest_s="%.2f" % max([r["took"] for r in results] or [0]))
    check(len(results) > 48, "decisions were sent while the database was stuck")
    eq(codes, ["database_unavailable"], "error codes while the database is stuck")
    check(max(r["took"] for r in results) <= DB_WAIT_S + 1.5,
          "answered within the documented wait: %.2f s" % max(r["took"] for r in results))
    check(wait_for(lambda: decide()["status"] == 200, timeout=20), "decisions once it is back")


@test
def a_table_lock_that_stops_every_statement_is_database_unavailable_not_overloaded():
    from harness import database_url
    box = {}

    def lock():
        box["p"] = subprocess.Popen(["psql", database_url(), "-qAt", "-c",
                                     "BEGIN; LOCK TABLE traces IN ACCESS EXCLUSIVE MODE; "
                                     "SELECT pg_sleep(12); COMMIT;"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stuck_database("traces locked for 12 s, 48 clients", lock, lambda: box["p"].wait(30))


@test
def commits_that_never_return_are_database_unavailable_not_overloaded():
    # A synchronous standby that is gone: connects, prepares and reads
    # work, every commit waits for ever. The pool keeps reconnecting, so
    # connects that work must not make a stuck database look busy.
    def gone():
        psql("ALTER SYSTEM SET synchronous_standby_names = 'keyrota_gone_standby'")
        psql("SELECT pg_reload_conf()")

    def back():
        psql("ALTER SYSTEM RESET synchronous_standby_names")
        psql("SELECT pg_reload_conf()")
    stuck_database("commits waiting for a gone standby, 48 clients", gone, back)


@test
def a_locked_running_trace_does_not_delay_other_decisions():
    restart_keyrota(KEYROTA_WORKERS=1, KEYROTA_FIXTURE_DELAY_MS=1000)
    try:
        key = "lock-" + uuid.uuid4().hex
        held, box = in_background(decide, key)
        trace_id = wait_for_key(key)
        locker = lock_trace(trace_id, 20)
        time.sleep(1.5)     # the model answered; the terminal write waits
        took = []
        end = time.monotonic() + 15
        while time.monotonic() < end:
            r = decide()
            eq(r["status"], 200, "another decision")
            took.append(r["took"])
        locker.wait(30)
        held.join(60)
        final = trace_states([trace_id]).get(trace_id)
        measured("row lock 20 s", others=len(took), slowest_other_s="%.2f" % max(took),
                 locked_status=box["r"]["status"], locked_trace=final)
        check(max(took) < 1.0 + 1.5, "others took %.2f s at most (fixture 1 s)" % max(took))
        check(box["r"]["status"] in (200, 202), "the locked decision: %r" % box["r"])
        eq(wait_for(lambda: trace_states([trace_id]).get(trace_id) == "completed", timeout=20),
           True, "the locked trace completes once the lock is gone")
    finally:
        restart_keyrota()


def kill_under_load(sig):
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=500, KEYROTA_MODEL_TIMEOUT_MS=2000,
                    KEYROTA_REAPER_GRACE_MS=1000, KEYROTA_REAPER_INTERVAL_MS=300)
    since = time.time()
    with Load(16, pause=0.02) as load:
        time.sleep(1.5)
        victim = worker_pids()[0]
        killed = time.monotonic()
        os.kill(victim, sig)
        time.sleep(3)
    results = load.results
    failed = [r for r in results if r["status"] != 200]
    late = [r for r in failed if r["sent"] > killed + 0.2]
    lost = int(psql("SELECT count(*) FROM traces WHERE error_code = 'worker_lost' "
                    "AND created_at >= to_timestamp(:'p1'::float8)", repr(since))[0][0])
    check(wait_for(lambda: running_count(since) == 0, timeout=10), "traces left running")
    lost = int(psql("SELECT count(*) FROM traces WHERE error_code = 'worker_lost' "
                    "AND created_at >= to_timestamp(:'p1'::float8)", repr(since))[0][0])
    gauge = wait_for(lambda: in_flight_gauge() == 0, timeout=5)
    measured("worker %s under load" % signal.Signals(sig).name, sent=len(results),
             failed=len(failed), failed_after_kill=len(late), worker_lost=lost,
             in_flight_after=in_flight_gauge())
    eq(late, [], "requests sent after the kill that failed")
    return failed, lost, gauge


@test
def worker_sigkill_under_load_fails_only_its_requests():
    try:
        failed, lost, gauge = kill_under_load(signal.SIGKILL)
        check(len(failed) <= 16, "at most the killed worker's in-flight requests failed")
        check(all(r["status"] == 502 for r in failed), "they failed as the worker died")
        # A request killed before its running row was written has no trace.
        check(0 < lost <= len(failed), "the killed requests' traces ended worker_lost: "
              "%d of %d" % (lost, len(failed)))
        check(gauge, "the in-flight gauge returns to 0 (it counted the dead worker's decisions)")
    finally:
        restart_keyrota()


@test
def worker_sigterm_under_load_fails_nothing():
    try:
        failed, lost, gauge = kill_under_load(signal.SIGTERM)
        eq(failed, [], "failed requests")
        eq(lost, 0, "worker_lost traces")
        check(gauge, "the in-flight gauge returns to 0")
    finally:
        restart_keyrota()


@test
def recycling_under_load_fails_nothing_and_keeps_capacity():
    restart_keyrota(KEYROTA_WORKERS=2, KEYROTA_MAX_REQUESTS=15, KEYROTA_FIXTURE_DELAY_MS=200)
    try:
        first = worker_pids()
        with Prober() as probe, Load(8, pause=0.02) as load:
            time.sleep(6)
        results = load.results
        failed = [r for r in results if r["status"] != 200]
        measured("recycling under load", sent=len(results), failed=len(failed),
                 healthz_max_ms="%.0f" % (1000 * max(probe.times)))
        check(not set(first) & set(worker_pids()), "workers were recycled")
        eq(failed, [], "failed requests")
        eq(probe.failures, 0, "/healthz failures")
    finally:
        restart_keyrota()


@test
def recycling_starts_the_replacement_first():
    restart_keyrota(KEYROTA_WORKERS=1, KEYROTA_MAX_REQUESTS=20, KEYROTA_FIXTURE_DELAY_MS=5000)
    try:
        for _ in range(19):
            eq(get("/healthz").status, 200)
        slow, box = in_background(decide)      # the 20th request: 5 s
        time.sleep(0.5)
        t0 = time.monotonic()
        eq(get("/healthz", timeout=10).status, 200)
        took = time.monotonic() - t0
        slow.join(30)
        measured("recycle with a 5 s decision in flight", healthz_ms="%.0f" % (1000 * took),
                 decision=box["r"]["status"])
        check(took < 1.0, "/healthz took %.2f s while the old worker drained" % took)
        eq(box["r"]["status"], 200, "the draining worker finished its decision")
    finally:
        restart_keyrota()


@test
def drain_waits_for_the_terminal_write():
    restart_keyrota(KEYROTA_WORKERS=1, KEYROTA_MODEL_TIMEOUT_MS=2000,
                    KEYROTA_FIXTURE_DELAY_MS=1500)
    try:
        key = "drain-" + uuid.uuid4().hex
        held, box = in_background(decide, key)
        trace_id = wait_for_key(key)
        locker = lock_trace(trace_id, 5)
        os.kill(supervisor_pid(), signal.SIGTERM)
        held.join(30)
        locker.wait(30)
        final = trace_states([trace_id]).get(trace_id)
        measured("drain with a slow terminal write", decision=box["r"]["status"], trace=final)
        eq(box["r"]["status"], 200, "the decision finished during the drain")
        eq(final, "completed", "its trace")
    finally:
        stack("keyrota-stop")
        restart_keyrota()


@test
def multi_host_database_url_with_the_first_host_down():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    url = ("host=127.0.0.1,%s port=%d,%d dbname=keyrota user=keyrota "
           "target_session_attrs=read-write" % (os.path.join(VAR, "pg-run"), closed, PG_PORT))
    restart_keyrota(KEYROTA_DATABASE_URL=url)
    try:
        r = decide()
        measured("multi-host url, first host down", decision=r["status"], took_s="%.2f" % r["took"])
        eq(r["status"], 200, "decision")
        eq([get("/readyz").status for _ in range(6)], [200] * 6, "/readyz")
    finally:
        restart_keyrota()


@test
def model_blackholed_or_cut_ends_every_trace_within_its_deadline():
    fake = start_fake_model("faults")
    key_file = fake["key_file"]
    proxy = None
    try:
        proxy = FaultProxy(("tcp", "127.0.0.1", fake["port"])).start()
        restart_keyrota(KEYROTA_PROVIDER="openai", KEYROTA_MODEL_KEY_FILE=key_file,
                        KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % proxy.port,
                        KEYROTA_MODEL="gpt-test", KEYROTA_MODEL_TIMEOUT_MS=2500,
                        KEYROTA_MODEL_MAX_ATTEMPTS=2)
        eq(decide()["status"], 200, "a decision through the proxy")
        outcomes = []
        for mode in ("blackhole", "cut", "delay"):
            if mode == "blackhole":
                proxy.set_blackhole()
            elif mode == "delay":
                proxy.set_delay(3000)         # past the model deadline
            posts = [in_background(decide) for _ in range(8)]
            if mode == "cut":
                proxy.set_delay(500)
                time.sleep(0.2)
                proxy.cut()
            for t, _ in posts:
                t.join(30)
            proxy.set_pass()
            proxy.cut()                       # no half-open leftovers between phases
            for _, box in posts:
                outcomes.append((mode, box["r"]))
        ids = [r.get("trace_id") for _, r in outcomes]
        rows = dict((r[0], r[1:]) for r in psql(
            "SELECT trace_id, status, coalesce(error_code, '') FROM traces "
            "WHERE trace_id = ANY(string_to_array(:'p1', ','))", ",".join(i for i in ids if i)))
        slowest = max(r["took"] for _, r in outcomes)
        measured("model blackholed / cut / slow, 8 decisions each", sent=len(outcomes),
                 statuses=sorted(set(r["status"] for _, r in outcomes)),
                 outcomes=sorted(set("%s:%s" % (m, "/".join(rows.get(r.get("trace_id"), ("lost",))))
                                     for m, r in outcomes)),
                 slowest_s="%.2f" % slowest)
        eq(set(r["status"] for _, r in outcomes), {200}, "every decision answered with its trace")
        eq([i for i in ids if i not in rows], [], "traces lost")
        eq([i for i, v in rows.items() if v[0] == "running"], [], "traces left running")
        check(all(v[0] == "completed" or v[1] for v in rows.values()), "failed with a named code")
        check(slowest < 2.5 + 2, "each within the model deadline: %.2f s" % slowest)
    finally:
        if proxy:
            proxy.stop()
        stop_fake_model(fake)
        restart_keyrota()


@test
def a_provider_slower_than_the_model_deadline_still_gets_its_terminal_write():
    # The fixture's delay is not bound by the model deadline; the terminal
    # write gets a whole try even when the decision's deadline has passed.
    restart_keyrota(KEYROTA_WORKERS=1, KEYROTA_MODEL_TIMEOUT_MS=1000, KEYROTA_REAPER_GRACE_MS=0,
                    KEYROTA_FIXTURE_DELAY_MS=1500)
    try:
        r = decide()
        measured("provider slower than its deadline", decision=r["status"],
                 trace=trace_states([r.get("trace_id")]).get(r.get("trace_id")))
        eq(r["status"], 200, "the decision")
        eq(trace_states([r["trace_id"]]).get(r["trace_id"]), "completed", "its trace")
    finally:
        restart_keyrota()


@test
def a_worker_stuck_past_the_drain_deadline_is_killed_and_nothing_is_orphaned():
    # One worker holding a decision is stopped (it cannot drain); SIGTERM
    # must still end the pool: the supervisor kills the straggler once the
    # drain deadline (12 s at least, plus a second) has passed, and exits.
    restart_keyrota(KEYROTA_WORKERS=1, KEYROTA_FIXTURE_DELAY_MS=1500,
                    KEYROTA_REAPER_INTERVAL_MS=200, KEYROTA_REAPER_GRACE_MS=0)
    try:
        key = "straggler-" + uuid.uuid4().hex
        held, box = in_background(decide, key)
        trace_id = wait_for_key(key)
        sup = supervisor_pid()
        (worker,) = worker_pids()
        os.kill(worker, signal.SIGSTOP)
        stopped_at = time.monotonic()
        os.kill(sup, signal.SIGTERM)
        gone = wait_for(lambda: not os.path.exists("/proc/%d" % sup) and
                        not os.path.exists("/proc/%d" % worker), timeout=25, interval=0.2)
        took = time.monotonic() - stopped_at
        measured("straggler past the drain deadline", seconds_to_exit=round(took, 1))
        check(gone, "supervisor %d or worker %d still there after %.1fs" % (sup, worker, took))
        check(took >= 11.5, "the drain was cut short: %.1fs" % took)
        held.join(30)
        check(box["r"]["status"] != 200, "the killed worker cannot have answered")
        # The next pool's reaper ends the trace the killed worker held.
        restart_keyrota(KEYROTA_REAPER_INTERVAL_MS=200, KEYROTA_REAPER_GRACE_MS=0)
        ended = wait_for(lambda: trace_states([trace_id]).get(trace_id) != "running",
                         timeout=15)
        check(ended, "the straggler's trace was left running")
        eq(psql("SELECT status, error_code FROM traces WHERE trace_id = :'p1'", trace_id),
           [["failed", "worker_lost"]])
    finally:
        restart_keyrota()


@test
def postgres_lost_after_the_running_row_the_reaper_ends_the_trace():
    # The running row is written, then PostgreSQL goes away until past the
    # trace's deadline: the worker's terminal write cannot land in time; once
    # the database is back the reaper ends the trace, the worker's own late
    # finish changes nothing, and no process crashed.
    # The simulated model takes 3 s, so PostgreSQL is surely gone (pg-stop
    # takes well under that, even on a loaded machine) before the answer.
    restart_keyrota(KEYROTA_WORKERS=1, KEYROTA_FIXTURE_DELAY_MS=3000,
                    KEYROTA_REAPER_INTERVAL_MS=200, KEYROTA_REAPER_GRACE_MS=0)
    try:
        worker = worker_pids()
        key = "pglost-" + uuid.uuid4().hex
        held, box = in_background(decide, key)
        trace_id = wait_for_key(key)
        asked = time.monotonic()
        stack("pg-stop")
        stopped_after = time.monotonic() - asked
        try:
            held.join(30)
            time.sleep(1.5)    # the outage itself: past the trace's deadline
        finally:
            stack("pg-start")
        r = box["r"]
        check(stopped_after < 2.5, "PostgreSQL took %.1fs to stop; the model had answered "
              "by then, so this run says nothing" % stopped_after)
        # Started, so never a 503: the client is told its trace, still running.
        eq((r["status"], r.get("trace_id")), (202, trace_id), "answer during the outage")
        ended = wait_for(lambda: trace_states([trace_id]).get(trace_id) not in (None, "running"),
                         timeout=15)
        check(ended, "the trace was left running")
        first = psql("SELECT status, error_code, finished_at::text FROM traces "
                     "WHERE trace_id = :'p1'", trace_id)
        measured("postgres lost after the running row", answer=r["status"], trace=first[0][:2])
        eq(first[0][:2], ["failed", "worker_lost"], "the reaper ended it")
        # Whatever the worker still tries afterwards loses: the row stays.
        time.sleep(1.5)
        eq(psql("SELECT status, error_code, finished_at::text FROM traces "
                "WHERE trace_id = :'p1'", trace_id), first, "ended once")
        eq(worker_pids(), worker, "the worker did not crash")
    finally:
        restart_keyrota()

"""Under load (README, "Under load"): admission before the running row
(overloaded, rate_limited, model_budget_exhausted), the descriptor limit,
accept() without descriptors, and the listen queues. Each test starts the
keyrota or nginx it needs with its own settings and puts the stack back
as scripts/test started it. Faults come from real limits: a tiny
RLIMIT_NOFILE set with prlimit, SIGKILL to workers, nginx's own
limit_req, the fake model's count of the calls it received."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid

from harness import (ROOT, STACK, VAR, check, eq, get, psql, request, restart_keyrota, stack,
                     stop_fake_model, supervisor_pid, test, wait_for, worker_pids)
from harness import fake_model_control, fake_model_scenario
from harness import start_fake_model as harness_start_fake_model

STALE = "The CI deploy key for this service account is stale."
SOCKET = os.path.join(VAR, "run", "keyrota.sock")
PORT = int(os.environ["KEYROTA_HTTP_PORT"])


def decide(accept="application/json", account="acct_10234", timeout=60):
    body = json.dumps({"account_id": account, "credential_report": STALE}).encode()
    return request("POST", "/rotation/decide", body=body, timeout=timeout,
                   headers={"Content-Type": "application/json", "Accept": accept})


def in_background(n, **kw):
    """n decisions on their own threads; returns (threads, results)."""
    results = []
    lock = threading.Lock()

    def one():
        try:
            r = decide(**kw)
            out = (r.status, r.body)
        except OSError as e:
            out = (0, repr(e).encode())
        with lock:
            results.append(out)
    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, results


def join(threads, timeout=60):
    for t in threads:
        t.join(timeout)


def metric(name, labels=""):
    """The value of one sample of /metrics (0 when absent)."""
    want = name + labels
    for line in get("/metrics").text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def refused(code):
    return metric("keyrota_admission_refused_total", '{error_type="%s"}' % code)


def traces():
    return int(psql("SELECT count(*) FROM traces")[0][0])


def provider_calls():
    """Model calls (attempts) of every error type."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in get("/metrics").text.splitlines()
               if line.startswith("keyrota_provider_attempts_total{"))


def retry_after(r):
    v = r.headers.get("retry-after", "")
    check(re.fullmatch(r"[1-9][0-9]*", v), "Retry-After is a positive number of seconds: %r" % v)
    return int(v)


def expect_refusal(r, status, code, accept_json):
    eq(r.status, status, code + " status")
    ra = retry_after(r)
    if accept_json:
        check(r.headers.get("content-type", "").startswith("application/json"), "JSON answer")
        eq(r.json()["error_code"], code, "error_code")
    else:
        check(r.headers.get("content-type", "").startswith("text/html"), "HTML answer")
        check(code in r.text, "the page names %s" % code)
    return ra


def submit_form():
    """The person's flow: the form page, then its post."""
    page = get("/", headers={"Accept": "text/html"})
    csrf = re.search(r"keyrota_csrf=([A-Za-z0-9_-]+)", page.headers["set-cookie"]).group(1)
    values = dict(re.findall(r'name="(csrf_token|request_token)" value="([^"]*)"', page.text))
    values.update(account_id="acct_10234", credential_report=STALE, item="")
    return request("POST", "/rotation/decide", body=urllib.parse.urlencode(values),
                   headers={"Content-Type": "application/x-www-form-urlencoded",
                            "Accept": "text/html", "Sec-Fetch-Site": "same-origin",
                            "Cookie": "keyrota_csrf=" + csrf})


# --- overloaded -----------------------------------------------------------

@test
def past_max_in_flight_is_overloaded_without_trace_or_model_call_and_slots_come_back():
    restart_keyrota(KEYROTA_MAX_IN_FLIGHT=2, KEYROTA_FIXTURE_DELAY_MS=2500)
    try:
        before_refused, before_calls = refused("overloaded"), provider_calls()
        threads, results = in_background(2)
        check(wait_for(lambda: metric("keyrota_decisions_in_flight") == 2, timeout=10),
              "two decisions in flight (the cap is across workers)")
        before_traces = traces()
        r = decide()
        expect_refusal(r, 503, "overloaded", accept_json=True)
        r = decide(accept="text/html")
        expect_refusal(r, 503, "overloaded", accept_json=False)
        r = submit_form()
        expect_refusal(r, 503, "overloaded", accept_json=False)
        check("Temporarily unavailable" in r.text, "the form flow's error page, in the layout")
        eq(traces(), before_traces, "traces written for refused decisions")
        eq(refused("overloaded") - before_refused, 3, "keyrota_admission_refused_total overloaded")
        join(threads)
        eq(sorted(s for s, _ in results), [200, 200], "the admitted decisions")
        eq(provider_calls() - before_calls, 2, "model calls: only the admitted decisions")
        check(wait_for(lambda: metric("keyrota_decisions_in_flight") == 0, timeout=10),
              "no decision left in flight")
        # The slots came back: two more fit at once.
        threads, results = in_background(2)
        join(threads)
        eq(sorted(s for s, _ in results), [200, 200], "decisions after the first ones ended")
    finally:
        restart_keyrota()


@test
def a_worker_killed_mid_decision_gives_its_slots_back():
    restart_keyrota(KEYROTA_MAX_IN_FLIGHT=2, KEYROTA_FIXTURE_DELAY_MS=4000)
    try:
        threads, results = in_background(2)
        check(wait_for(lambda: metric("keyrota_decisions_in_flight") == 2, timeout=10),
              "two decisions in flight")
        eq(decide().status, 503, "the cap is reached")
        old = worker_pids()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        check(wait_for(lambda: len(worker_pids()) == len(old) and
                       not set(worker_pids()) & set(old), timeout=15),
              "the killed workers were replaced")
        check(wait_for(lambda: get("/healthz").status == 200, timeout=10), "serving again")
        join(threads)
        eq(metric("keyrota_decisions_in_flight"), 0, "in-flight after the workers died")
        threads, results = in_background(2)
        join(threads)
        eq(sorted(s for s, _ in results), [200, 200], "two decisions admitted after the crash")
    finally:
        restart_keyrota()


# --- rate_limited ---------------------------------------------------------

def restart_nginx(**env):
    stack("nginx-stop")
    stack("nginx-start", env={k: str(v) for k, v in env.items()})


@test
def past_the_client_rate_nginx_answers_rate_limited_through_keyrota_without_a_trace():
    # One decision a minute per address, and a burst of one more.
    restart_nginx(KEYROTA_DECIDE_RATE="1r/m", KEYROTA_DECIDE_BURST=1)
    try:
        before_refused, before_traces = refused("rate_limited"), traces()
        eq([decide().status for _ in range(2)], [200, 200], "the rate and its burst")
        r = decide()
        eq(expect_refusal(r, 429, "rate_limited", accept_json=True), 60,
           "Retry-After of 1r/m")
        r = decide(accept="text/html")
        expect_refusal(r, 429, "rate_limited", accept_json=False)
        check("Too many requests" in r.text, "the error page in the layout")
        eq(traces() - before_traces, 2, "traces: only the admitted decisions")
        eq(refused("rate_limited") - before_refused, 2, "keyrota_admission_refused_total")
        # Only decisions are limited.
        eq(get("/healthz").status, 200, "/healthz")
        eq(get("/").status, 200, "the form")
        eq(get("/rotation/decide").status, 405, "GET of the decide route is not limited")
    finally:
        restart_nginx()


# --- model_budget_exhausted -----------------------------------------------

fake = {}


def control(path, obj=None):
    return fake_model_control(fake, path, obj)


def start_fake_model():
    fake.update(harness_start_fake_model("overload", "sk-test-" + uuid.uuid4().hex))


def scenario(name):
    fake_model_scenario(fake, name)


def fake_calls():
    return len(control("/__requests"))


def start_of_a_minute():
    """Waits, if need be, until the wall clock is early in a minute, so the
    budget's minute does not roll over in the middle of a test."""
    s = time.time() % 60
    if s > 40:
        time.sleep(61 - s)


@test
def past_the_model_budget_a_decision_is_refused_until_the_minute_rolls_over():
    start_fake_model()
    try:
        restart_keyrota(KEYROTA_PROVIDER="openai", KEYROTA_MODEL="gpt-test",
                        KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % fake["port"],
                        KEYROTA_MODEL_KEY_FILE=fake["key_file"], KEYROTA_MODEL_TIMEOUT_MS=5000,
                        KEYROTA_MODEL_MAX_ATTEMPTS=2, KEYROTA_MODEL_BUDGET_PER_MINUTE=5)
        start_of_a_minute()
        before_refused = refused("model_budget_exhausted")
        # A decision that never calls the model gives its call back.
        r = decide(account="acct_99999")
        eq(r.json()["error_code"], "unknown_account", "unknown account")
        # A retry within the budget is made, and counts: 2 of the 5.
        scenario("error500")
        r = decide()
        eq((r.status, r.json()["error_code"]), (200, "provider_unavailable"), "retried failure")
        eq(fake_calls(), 2, "attempts of the retried decision")
        scenario("success")
        eq([decide().json()["status"] for _ in range(2)], ["completed"] * 2,
           "two more calls")
        eq(fake_calls(), 2, "model calls")
        # The fifth call fails and asks for a retry the budget has no room
        # for: the retry is not made.
        scenario("error500")
        r = decide()
        eq((r.status, r.json()["error_code"]), (200, "provider_rate_limited"),
           "a retry past the budget")
        eq(fake_calls(), 1, "attempts of the decision whose retry was refused")
        before_traces = traces()
        r = decide()
        minute_left = 60 - int(time.time() % 60)
        ra = expect_refusal(r, 503, "model_budget_exhausted", accept_json=True)
        check(abs(ra - minute_left) <= 2, "Retry-After %d is the rest of the minute (%d)"
              % (ra, minute_left))
        r = decide(accept="text/html")
        expect_refusal(r, 503, "model_budget_exhausted", accept_json=False)
        eq(fake_calls(), 1, "model calls after the budget was spent")
        eq(traces(), before_traces, "traces written for refused decisions")
        eq(refused("model_budget_exhausted") - before_refused, 2, "refusals counted")
    finally:
        restart_keyrota()
        stop_fake_model(fake)


# --- descriptors and backlog ----------------------------------------------

def start_keyrota_with_nofile(soft, hard, **env):
    """keyrota-start under a descriptor limit set with prlimit, as a
    service manager or a shell would hand it over."""
    stack("keyrota-stop")
    e = dict(os.environ)
    e.update({k: str(v) for k, v in env.items()})
    subprocess.run(["prlimit", "--nofile=%d:%d" % (soft, hard), "--", STACK, "keyrota-start"],
                   check=True, env=e, stdout=subprocess.DEVNULL)
    check(wait_for(lambda: get("/healthz").status == 200, timeout=10), "keyrota answers")


def nofile_limits(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no Max open files in /proc/%d/limits" % pid)


@test
def the_soft_descriptor_limit_is_raised_to_the_hard_one_and_logged():
    hard = nofile_limits(os.getpid())[1]
    soft = min(256, hard)
    start_keyrota_with_nofile(soft, hard)
    try:
        for pid in [supervisor_pid()] + worker_pids():
            eq(nofile_limits(pid), (hard, hard), "RLIMIT_NOFILE of %d" % pid)
        with open(os.path.join(VAR, "log", "keyrota.log")) as f:
            lines = [json.loads(l) for l in f if '"descriptors:' in l]
        check(lines, "the start logs the descriptor limits")
        msg = lines[-1]["msg"]
        check("soft limit %d (was %d), hard limit %d" % (hard, soft, hard) in msg, msg)
    finally:
        restart_keyrota()


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


@test
def accept_without_descriptors_backs_off_instead_of_spinning():
    # One worker with 128 descriptors, 150 decisions of 2 s at once: the
    # parked ones use up the descriptors and accept() fails with EMFILE
    # until some end.
    start_keyrota_with_nofile(128, 128, KEYROTA_WORKERS=1, KEYROTA_THREADS=4,
                              KEYROTA_DB_POOL_SIZE=2, KEYROTA_MAX_IN_FLIGHT=1000,
                              KEYROTA_FIXTURE_DELAY_MS=2000)
    try:
        workers = worker_pids()
        eq(nofile_limits(workers[0]), (128, 128), "the worker's limit")
        before_backoffs = metric("keyrota_accept_backoffs_total")
        cpu0, t0 = cpu_seconds(workers), time.monotonic()
        threads, results = in_background(150, timeout=90)
        join(threads, timeout=120)
        wall, cpu = time.monotonic() - t0, cpu_seconds(workers) - cpu0
        statuses = sorted(set(s for s, _ in results))
        backoffs = metric("keyrota_accept_backoffs_total") - before_backoffs
        print("measured: EMFILE burst: 150 decisions, wall=%.1fs, worker cpu=%.2fs, "
              "backoffs=%d, statuses=%s" % (wall, cpu, backoffs, statuses))
        check(backoffs > 0, "accept() ran out of descriptors and backed off")
        # A spinning accept loop burns a core for the whole burst.
        check(cpu < 0.2 * wall, "worker CPU %.2fs over %.1fs" % (cpu, wall))
        eq(get("/healthz").status, 200, "/healthz after the burst")
        eq(decide().status, 200, "a decision after the burst")
        check(200 in statuses, "decisions were answered during the burst")
        eq(worker_pids(), workers, "the worker survived")
    finally:
        restart_keyrota()


def listen_queue(args, local):
    """Send-Q of a listening socket in `ss -l` output: its backlog."""
    out = subprocess.run(["ss", "-H", "-l"] + args, capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        cols = line.split()
        if local in cols:
            # -x: Netid State Recv-Q Send-Q Local ...; -t: State Recv-Q Send-Q Local ...
            return int(cols[cols.index(local) - 1])
    raise AssertionError("no listening socket %s in ss %s:\n%s" % (local, args, out))


@test
def listen_queues_are_somaxconn_sized():
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    eq(listen_queue(["-x"], SOCKET), somaxconn, "keyrota's FastCGI socket backlog")
    eq(listen_queue(["-t", "-n"], "127.0.0.1:%d" % PORT), somaxconn, "nginx's listen backlog")
    with open(os.path.join(VAR, "nginx", "nginx.conf")) as f:
        conf = f.read()
    check(re.search(r"^worker_processes auto;", conf, re.M), "worker_processes auto")
    conns = int(re.search(r"worker_connections (\d+);", conf).group(1))
    nofile = int(re.search(r"worker_rlimit_nofile (\d+);", conf).group(1))
    check(nofile >= conns, "worker_rlimit_nofile %d covers worker_connections %d" % (nofile, conns))

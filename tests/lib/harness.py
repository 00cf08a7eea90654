"""Integration test harness: talks to the real stack that scripts/test
started (nginx -> keyrota -> PostgreSQL) and controls it through
scripts/stack. Tests are plain functions registered with @test."""
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(ROOT, "scripts", "stack")
VAR = os.environ["KEYROTA_VAR"]
BUILD = os.environ["KEYROTA_BUILD_DIR"]
PORT = int(os.environ["KEYROTA_HTTP_PORT"])
# Templates as the stack serves them: the checkout, or the copy under the
# state directory when the service user cannot read the checkout.
TEMPLATE_DIR = os.path.join(subprocess.run([STACK, "share-dir"], check=True, capture_output=True,
                                           text=True).stdout, "templates")
BINARY = os.path.join(BUILD, "keyrota")

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def request(method, path, body=None, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def get(path, **kw):
    return request("GET", path, **kw)


def get_json(path, **kw):
    headers = dict(kw.pop("headers", {}) or {})
    headers.setdefault("Accept", "application/json")
    return request("GET", path, headers=headers, **kw)


def stack(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    subprocess.run([STACK, *args], check=True, env=e, stdout=subprocess.DEVNULL)


def database_url():
    return subprocess.run([STACK, "database-url"], check=True, capture_output=True,
                          text=True).stdout


def runtime_database_url():
    """What keyrota serve and eval connect with: a member of keyrota_runtime."""
    return subprocess.run([STACK, "runtime-database-url"], check=True, capture_output=True,
                          text=True).stdout


def psql(sql, *params):
    """Runs one statement with psql variables :'p1'... (quoted by psql)."""
    args = ["psql", database_url(), "-v", "ON_ERROR_STOP=1", "-Atq", "-F", "\t"]
    for i, p in enumerate(params, 1):
        args += ["-v", "p%d=%s" % (i, p)]
    out = subprocess.run(args, input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("psql failed: " + out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line != ""]


def write_secret(path, text):
    """Writes a key file as keyrota wants it: 0600, root's, replaced whole."""
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


def start_fake_model(name, key=None, command=None):
    """Starts a fake model server on a free 127.0.0.1 port and writes a
    model key file for keyrota. command is the server's argv without the
    port file (default: tests/fake_model/server.py). Returns a dict with
    proc, port and key_file; stop it with stop_fake_model."""
    port_file = os.path.join(VAR, "fake-model-%s.port" % name)
    if os.path.exists(port_file):
        os.unlink(port_file)
    argv = list(command or [os.path.join(ROOT, "tests", "fake_model", "server.py")])
    proc = subprocess.Popen(argv + ["--port-file", port_file], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def port():
        try:
            with open(port_file) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None
    if not wait_for(port, timeout=10):
        proc.kill()
        proc.wait()
        raise AssertionError("fake model %s did not start" % name)
    key_file = os.path.join(VAR, "secrets", "model-%s.key" % name)
    write_secret(key_file, (key or "sk-test-" + name) + "\n")
    return {"proc": proc, "port": port(), "key_file": key_file}


def fake_model_control(fake, path, obj=None):
    """Talks to a fake model's control routes: POSTs obj as JSON to path
    (a GET without obj) and returns the JSON answer."""
    data = json.dumps(obj).encode() if obj is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (fake["port"], path), data=data,
                                 method="POST" if obj is not None else "GET")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def fake_model_scenario(fake, name, **options):
    """Sets the fake's scenario (with its options) and forgets the calls it
    recorded."""
    fake_model_control(fake, "/__control", dict(options, scenario=name))
    fake_model_control(fake, "/__reset", {})


def fake_model_script(fake, *replies):
    """The fake plays these replies, one per call; the last one repeats."""
    fake_model_scenario(fake, "script", replies=list(replies))


def stop_fake_model(fake):
    fake["proc"].send_signal(signal.SIGTERM)
    try:
        fake["proc"].wait(timeout=10)
    except subprocess.TimeoutExpired:
        fake["proc"].kill()
        fake["proc"].wait()


def trace_row(trace_id):
    """The stored trace as a dict (its row as JSON), or None."""
    rows = psql("SELECT row_to_json(t)::text FROM traces t WHERE trace_id = :'p1'", trace_id)
    return json.loads(rows[0][0]) if rows else None


def supervisor_pid():
    with open(os.path.join(VAR, "keyrota.pid")) as f:
        return int(f.read().strip())


def worker_pids():
    out = subprocess.run(["pgrep", "-P", str(supervisor_pid())], capture_output=True, text=True)
    return sorted(int(p) for p in out.stdout.split())


def reload_and_wait():
    """SIGHUP to the supervisor; returns once a new generation of workers
    has replaced the old one."""
    before = set(worker_pids())
    os.kill(supervisor_pid(), signal.SIGHUP)
    fresh = wait_for(lambda: (lambda p: p if p and not set(p) & before else None)(worker_pids()),
                     timeout=15)
    check(fresh, "no new generation of workers")


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def restart_keyrota(**env):
    stack("keyrota-stop")
    stack("keyrota-start", env={k: str(v) for k, v in env.items()})
    check(wait_for(lambda: _answers("/healthz"), timeout=10),
          "keyrota did not answer /healthz within 10 s of its restart")


def _answers(path):
    try:
        return get(path, timeout=5).status == 200
    except OSError:
        return False


def db_now():
    return psql("SELECT now()::text")[0][0]


def running_traces(since):
    """Trace ids created since (a db_now() value) whose row says running."""
    return [r[0] for r in psql("SELECT trace_id FROM traces WHERE status = 'running' "
                               "AND created_at >= :'p1'::timestamptz ORDER BY created_at",
                               since)]


def _stopped(pid):
    task = "/proc/%d/task" % pid
    for tid in os.listdir(task):
        with open("%s/%s/stat" % (task, tid)) as f:
            if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                return False
    return True


def from_each_worker(path, **kw):
    """GETs path once from every worker, deterministically: the others are
    stopped (SIGSTOP) so only one process can accept the connection.
    Returns [(pid, Response)]."""
    out = []
    pids = worker_pids()
    for pid in pids:
        others = [p for p in pids if p != pid]
        for p in others:
            os.kill(p, signal.SIGSTOP)
        try:
            # kill() returns before the stop: a thread still in accept()
            # could take the connection, so wait until every thread is T.
            check(wait_for(lambda: all(_stopped(p) for p in others), timeout=5),
                  "workers %r did not stop" % others)
            out.append((pid, get(path, **kw)))
        finally:
            for p in others:
                os.kill(p, signal.SIGCONT)
    return out


def check(cond, message="check failed"):
    if not cond:
        raise AssertionError(message)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what or "value", got, want))


# --- a minimal FastCGI client, to talk to a keyrota socket directly -------

def fcgi_ready(sock_path):
    """Whether keyrota answers /healthz on its socket: the file exists from
    bind(), before listen() and before any worker accepts."""
    try:
        return b"Status: 200" in fcgi_get(sock_path, "/healthz")
    except OSError:
        return False


def fcgi_get(sock_path_or_socket, path, params=None):
    """Sends one FastCGI GET request; returns the raw CGI response bytes."""
    return fcgi_request(sock_path_or_socket, "GET", path, params=params)


def fcgi_request(sock_path_or_socket, method, path, body=b"", params=None):
    """Sends one FastCGI request (the body as FCGI_STDIN records), straight
    to keyrota with no nginx in front; returns the raw CGI response bytes."""
    if isinstance(sock_path_or_socket, socket.socket):
        s = sock_path_or_socket
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sock_path_or_socket)

    def record(rtype, content):
        return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        out = b""
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
        return out + k + v

    p = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path,
         "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1"}
    if body:
        p["CONTENT_LENGTH"] = str(len(body))
    p.update(params or {})
    encoded = b"".join(pair(k, v) for k, v in p.items())
    stdin = b"".join(record(5, body[i:i + 65535]) for i in range(0, len(body), 65535))
    s.sendall(record(1, struct.pack("!HB5x", 1, 0)) + record(4, encoded) + record(4, b"") +
              stdin + record(5, b""))
    out = b""
    while True:
        hdr = s.recv(8, socket.MSG_WAITALL)
        if len(hdr) < 8:
            break
        _, rtype, _, clen, plen = struct.unpack("!BBHHBx", hdr)
        content = s.recv(clen + plen, socket.MSG_WAITALL)[:clen] if clen + plen else b""
        if rtype == 6:
            out += content
        elif rtype == 3:
            break
    s.close()
    return out


def main(suite_name, modules):
    selected = os.environ.get("KEYROTA_TEST_FILTER", "")
    passed = failed = 0
    loaded = [__import__(mod) for mod in modules]
    for mod in loaded:
        tests = [fn for fn in _tests if fn.__module__ == mod.__name__ and
                 (not selected or selected in "%s.%s" % (fn.__module__, fn.__name__))]
        if not tests:
            continue
        try:
            if hasattr(mod, "setup_module"):
                mod.setup_module()
        except Exception:
            print("FAIL %s.setup_module" % mod.__name__)
            traceback.print_exc(file=sys.stdout)
            failed += len(tests)
            continue
        p, f = _run(tests)
        passed += p
        failed += f
        if hasattr(mod, "teardown_module"):
            try:
                mod.teardown_module()
            except Exception:
                failed += 1
                print("FAIL %s.teardown_module" % mod.__name__)
                traceback.print_exc(file=sys.stdout)
    print("%s: %d passed, %d failed" % (suite_name, passed, failed))
    return 1 if failed else 0


def _run(tests):
    passed = failed = 0
    for fn in tests:
        name = "%s.%s" % (fn.__module__, fn.__name__)
        started = time.monotonic()
        try:
            fn()
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (name, time.monotonic() - started))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("PASS %s (%.2fs)" % (name, time.monotonic() - started))
        sys.stdout.flush()
    return passed, failed

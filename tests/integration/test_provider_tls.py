"""The OpenAI-compatible provider over TLS and HTTP/2, against the Node fake
of tests/fake_model/h2.mjs with a throwaway CA made here: a worker's calls
share a few multiplexed connections, and a server whose certificate the
configured CA did not sign gets no request at all."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import http.client
import uuid

from harness import (ROOT, VAR, check, eq, request, restart_keyrota, start_fake_model,
                     stop_fake_model, test, wait_for, worker_pids)

MODEL_KEY = "sk-test-keyrota-" + uuid.uuid4().hex
STALE = "The CI deploy key for this service account is stale."
FAKE_DELAY_MS = 300
CONCURRENT = 40
fake = {}


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=fake["dir"])


def make_ca(name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", name + ".key", "-out", name + ".pem", "-subj", "/CN=keyrota test " + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return os.path.join(fake["dir"], name + ".pem")


def make_pki():
    """A CA, a server certificate for 127.0.0.1 it signs, and a second CA
    that signed nothing here."""
    fake["ca"] = make_ca("ca")
    fake["other_ca"] = make_ca("other")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(fake["dir"], "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-out", "server.pem", "-extfile", "ext")
    # The service user reads the CA bundle at each new connection.
    os.chmod(fake["dir"], 0o755)
    for name in ("ca.pem", "other.pem"):
        os.chmod(os.path.join(fake["dir"], name), 0o644)


def fake_call(method, path, obj=None):
    ctx = ssl.create_default_context(cafile=fake["ca"])
    conn = http.client.HTTPSConnection("127.0.0.1", fake["port"], context=ctx, timeout=10)
    try:
        body = json.dumps(obj).encode() if obj is not None else None
        conn.request(method, path, body=body)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def stats():
    return fake_call("GET", "/__stats")


def reset():
    fake_call("POST", "/__reset", {})


def keyrota_env(ca_file):
    env = dict(KEYROTA_PROVIDER="openai",
               KEYROTA_MODEL_BASE_URL="https://127.0.0.1:%d/v1" % fake["port"],
               KEYROTA_MODEL_KEY_FILE=fake["key_file"], KEYROTA_MODEL="gpt-test",
               KEYROTA_MODEL_TIMEOUT_MS=4000, KEYROTA_MODEL_MAX_ATTEMPTS=2)
    if ca_file is not None:
        env["KEYROTA_MODEL_CA_FILE"] = ca_file
    return env


def setup_module():
    fake["dir"] = tempfile.mkdtemp(prefix="keyrota-tls-")
    make_pki()
    fake.update(start_fake_model("tls", MODEL_KEY, command=[
        "node", os.path.join(ROOT, "tests", "fake_model", "h2.mjs"),
        "--tls-cert", os.path.join(fake["dir"], "server.pem"),
        "--tls-key", os.path.join(fake["dir"], "server.key"),
        "--delay-ms", str(FAKE_DELAY_MS)]))


def teardown_module():
    restart_keyrota()
    stop_fake_model(fake)
    shutil.rmtree(fake["dir"], ignore_errors=True)


def decide():
    r = request("POST", "/rotation/decide",
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                body=json.dumps({"account_id": "acct_10234",
                                 "credential_report": STALE}).encode())
    eq(r.status, 200, r.text)
    return r.json()


@test
def concurrent_decisions_share_few_http2_connections_per_worker():
    restart_keyrota(**keyrota_env(fake["ca"]))
    reset()
    results, lock = [], threading.Lock()

    def one():
        try:
            body = decide()
        except Exception as e:  # reported below, with the others
            body = {"exception": repr(e)}
        with lock:
            results.append(body)

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    eq(len(results), CONCURRENT, "answers")
    bad = [b for b in results if (b.get("status"), b.get("decision")) != ("completed", "eligible")]
    eq(bad, [], "decisions that did not complete")
    s = stats()
    eq(s["requests"], CONCURRENT, "calls the fake saw: %r" % s)
    eq(s["by_version"], {"2.0": CONCURRENT}, "HTTP versions")
    workers = len(worker_pids())
    # One multiplexed connection per worker is the expected figure; the
    # check allows a second for a worker whose first calls raced the
    # handshake, and never one per call.
    check(1 <= s["h2_sessions"] <= 2 * workers,
          "%d HTTP/2 sessions for %d calls from %d workers: %r" %
          (s["h2_sessions"], CONCURRENT, workers, s))
    check(s["max_streams_per_session"] > 1, "calls were not multiplexed: %r" % s)


def expect_fails_closed(ca_file):
    restart_keyrota(**keyrota_env(ca_file))
    reset()
    body = decide()
    eq((body["status"], body.get("error_code")), ("failed", "provider_unavailable"), body)
    s = stats()
    eq(s["requests"], 0, "requests the fake saw: %r" % s)
    eq(s["completed"], 0, "answers the fake sent: %r" % s)
    check(s["tls_errors"] >= 1, "the handshake did not fail on the server's side: %r" % s)


@test
def without_the_ca_file_the_system_store_refuses_the_test_server():
    expect_fails_closed(None)


@test
def a_ca_that_did_not_sign_the_server_certificate_is_refused():
    expect_fails_closed(fake["other_ca"])

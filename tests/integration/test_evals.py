"""keyrota eval, recorded runs on /admin/evals, and keyrota check."""
import base64
import json
import os
import shutil
import subprocess
import tempfile

from harness import (BINARY, ROOT, VAR, check, eq, get, runtime_database_url, start_fake_model,
                     stop_fake_model, test)

EVALS = os.path.join(ROOT, "evals", "rotations.jsonl")


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}
    e.update({"KEYROTA_DATABASE_URL": runtime_database_url(), "KEYROTA_PROVIDER": "fixture",
              "KEYROTA_SQL_DIR": os.path.join(ROOT, "sql"),
              "KEYROTA_HTTP_PORT": os.environ["KEYROTA_HTTP_PORT"],
              "KEYROTA_FINGERPRINT_KEY_FILE": os.path.join(VAR, "secrets", "fingerprint.key")})
    e.update(extra)
    return e


def run(args, **extra):
    return subprocess.run([BINARY] + args, env=env(**extra), capture_output=True, text=True,
                          timeout=120)


def admin_json(path):
    with open(os.path.join(VAR, "secrets", "admin.password")) as f:
        pw = f.read().strip()
    token = base64.b64encode(("admin:" + pw).encode()).decode()
    r = get(path, headers={"Authorization": "Basic " + token, "Accept": "application/json"})
    eq(r.status, 200, r.text[:200])
    return r.json()


def case(name, age, report, expect, **more):
    d = {"name": name, "age_days": age, "report": report, "expect": expect}
    d.update(more)
    return json.dumps(d)


STALE = "The deploy key of this service account is stale."
ELIGIBLE = {"status": "completed", "decision": "eligible", "source_line_ids": ["P-7"]}


def shipped_cases():
    with open(EVALS) as f:
        return [json.loads(line) for line in f if line.strip()]


@test
def the_shipped_eval_set_passes_with_the_fixture():
    cases = shipped_cases()
    n = len(cases)
    real = sorted(c["name"] for c in cases if c.get("real_model"))
    check(n >= 20, "at least 20 cases, found %d" % n)
    kinds = {c.get("kind") for c in cases}
    eq(kinds, {"probe", "verifier", "validation"}, "every case names what it judges")
    eq(len({c["report"] for c in cases}), n, "every case has its own report text")
    check(real, "some cases need a real model")
    with tempfile.TemporaryDirectory() as tmp:
        out = run(["eval", EVALS, "--json", os.path.join(tmp, "report.json")])
        eq(out.returncode, 0, out.stdout[-2000:] + out.stderr)
        check("eval: %d passed, 0 failed, %d skipped" % (n - len(real), len(real))
              in out.stdout, out.stdout[-500:])
        lines = out.stdout.splitlines()
        eq(sum(1 for l in lines if l.startswith("PASS ")), n - len(real), "one line a case")
        eq(sorted(l.split()[1].rstrip(":") for l in lines if l.startswith("SKIP ")), real,
           "the real-model cases are skipped, visibly")
        for kind in ("probe", "verifier", "validation"):
            mine = [c for c in cases if c["kind"] == kind]
            skipped = sum(1 for c in mine if c.get("real_model"))
            check("eval %s cases: %d passed, 0 failed, %d skipped" %
                  (kind, len(mine) - skipped, skipped) in out.stdout, out.stdout[-500:])
        with open(os.path.join(tmp, "report.json")) as f:
            report = json.load(f)
        eq((report["passed"], report["failed"], report["skipped"], len(report["cases"])),
           (n - len(real), 0, len(real), n))
        eq(sorted(c["name"] for c in report["cases"] if c["skipped"]), real)
        check(not any(c["passed"] for c in report["cases"] if c["skipped"]),
              "a skipped case is never passed")
        check(report["run_id"].startswith("ev_"), report["run_id"])
        # Current OpenTelemetry GenAI names, not the deprecated gen_ai.system.
        eq((report["gen_ai.provider.name"], report["gen_ai.operation.name"],
            report["gen_ai.prompt.name"], report["gen_ai.prompt.version"]),
           ("keyrota.fixture", "chat", "rotation_decision", "2"))
        check("gen_ai.system" not in report, "gen_ai.system in the eval JSON")
    # The eval wrote no trusted accounts (test_faults_data checks every row).
    from harness import psql
    eq(psql("SELECT count(*) FROM accounts WHERE account_id LIKE 'acct_8%'")[0][0], "0")
    # The recorded run counts what ran; skipped cases have no result.
    eq(psql("SELECT passed, failed, (SELECT count(*) FROM eval_case_results c "
            "WHERE c.run_id = r.run_id) FROM eval_runs r WHERE run_id = :'p1'",
            report["run_id"]), [[str(n - len(real)), "0", str(n - len(real))]])


@test
def real_model_cases_are_ones_the_fixture_gets_wrong():
    # Unmarked, each case the set reserves for a real model fails with the
    # fixture: the mark is needed, and skipping is not hiding a pass.
    real = [c for c in shipped_cases() if c.get("real_model")]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "unmarked.jsonl")
        with open(path, "w") as f:
            for c in real:
                f.write(json.dumps(dict(c, real_model=False)) + "\n")
        out = run(["eval", path])
        eq(out.returncode, 1, out.stdout)
        check("eval: 0 passed, %d failed, 0 skipped" % len(real) in out.stdout, out.stdout)


@test
def an_injected_model_fails_every_injection_probe():
    # A model that always answers eligible, 30 days, P-7 (what a fully
    # injected model says) behind the fake OpenAI server: the probes at
    # ages inside the window must catch it; none may pass on keyrota's
    # verifier alone.
    fake = start_fake_model("evals")
    key, port = fake["key_file"], fake["port"]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = run(["eval", EVALS, "--json", os.path.join(tmp, "r.json")],
                      KEYROTA_PROVIDER="openai", KEYROTA_MODEL_KEY_FILE=key,
                      KEYROTA_MODEL_BASE_URL="http://127.0.0.1:%d/v1" % port)
            eq(out.returncode, 1, out.stdout + out.stderr)
            with open(os.path.join(tmp, "r.json")) as f:
                report = json.load(f)
        got = {c["name"]: c for c in report["cases"]}
        eq(report["skipped"], 0, "a model runs the real-model cases")
        injections = [name for name in got if name.startswith("injection_")]
        check(len(injections) >= 5, injections)
        for name in injections:
            eq((got[name]["passed"], got[name]["got"]), (False, "completed eligible [P-7]"), name)
        # keyrota's verifier still holds past the window, whatever the model says.
        eq(got["stale_after_window_never_eligible"]["got"], "failed policy_conflict")
        check(got["stale_after_window_never_eligible"]["passed"], "the verifier case passes")
    finally:
        stop_fake_model(fake)


@test
def a_failing_case_exits_1_and_names_it():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "wrong.jsonl")
        with open(path, "w") as f:
            f.write(case("right", 12, STALE, ELIGIBLE) + "\n")
            f.write(case("wrong_on_purpose", 45, STALE, ELIGIBLE) + "\n")
        out = run(["eval", path])
        eq(out.returncode, 1, out.stdout + out.stderr)
        check("FAIL wrong_on_purpose: expected completed eligible [P-7], got failed "
              "policy_conflict" in out.stdout, out.stdout)
        check("PASS right" in out.stdout and "eval: 1 passed, 1 failed" in out.stdout, out.stdout)


@test
def a_malformed_line_exits_2_naming_it():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.jsonl")
        for third in ('{"name": "x", "age_days": 1', case("x", -1, STALE, ELIGIBLE),
                      case("x", 1, STALE, {"status": "approved"}),
                      case("x", 1, STALE, ELIGIBLE, kind="judgement"),
                      case("x", 1, STALE, ELIGIBLE, real_model="yes"),
                      case("dup", 1, STALE, ELIGIBLE)):
            with open(path, "w") as f:
                f.write(case("dup", 12, STALE, ELIGIBLE) + "\n\n" + third + "\n")
            out = run(["eval", path])
            eq(out.returncode, 2, third)
            check(path + ":3:" in out.stderr, out.stderr)


@test
def recorded_runs_show_counts_and_changed_cases():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "compare-%s.jsonl" % os.urandom(4).hex())
        with open(path, "w") as f:
            f.write(case("steady", 12, STALE, ELIGIBLE) + "\n")
            f.write(case("flips", 12, STALE, ELIGIBLE) + "\n")
        eq(run(["eval", path]).returncode, 0)
        with open(path, "w") as f:
            f.write(case("steady", 12, STALE, ELIGIBLE) + "\n")
            f.write(case("flips", 45, STALE, ELIGIBLE) + "\n")
            f.write(case("brand_new", 12, "Nothing special here.",
                         {"status": "completed", "decision": "needs_review"}) + "\n")
        out = run(["eval", path])
        eq(out.returncode, 1)
        run_id = out.stdout.split("recorded as run ")[1].split()[0]
    runs = admin_json("/admin/evals")["runs"]
    mine = [r for r in runs if r["run_id"] == run_id]
    eq(len(mine), 1, "the run is listed")
    eq((mine[0]["passed"], mine[0]["total"]), (2, 3))
    eq((mine[0]["gen_ai.provider.name"], mine[0]["gen_ai.operation.name"]),
       ("keyrota.fixture", "chat"))
    check("gen_ai.system" not in mine[0], mine[0])
    detail = admin_json("/admin/evals?run=" + run_id)
    changed = sorted(c["name"] for c in detail["cases"] if c["changed"])
    eq(changed, ["brand_new", "flips"], "steady did not change")
    check(detail["previous_run_id"], "compared with the previous run")


@test
def check_passes_on_a_healthy_deploy():
    out = run(["check", "--eval-file", EVALS, "--readme", os.path.join(ROOT, "README.md")])
    eq(out.returncode, 0, out.stdout + out.stderr)
    for what in ("configuration valid", "fingerprint key file", "database reachable",
                 "migrations current", "/healthz", "/readyz", "eval set passes",
                 "README states the limits"):
        check("PASS " + what in out.stdout, "no PASS line for " + what + ":\n" + out.stdout)


@test
def check_fails_for_a_world_readable_key_and_a_pending_migration():
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "fp.key")
        with open(key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(key, 0o644)
        sql = os.path.join(tmp, "sql")
        shutil.copytree(os.path.join(ROOT, "sql"), sql)
        with open(os.path.join(sql, "999_not_yet.sql"), "w") as f:
            f.write("SELECT 1;\n")
        out = run(["check", "--eval-file", EVALS, "--readme", os.path.join(ROOT, "README.md")],
                  KEYROTA_FINGERPRINT_KEY_FILE=key, KEYROTA_SQL_DIR=sql)
        eq(out.returncode, 1, out.stdout)
        check("FAIL fingerprint key file" in out.stdout and "group or others" in out.stdout,
              out.stdout)
        check("FAIL migrations current: 1 pending" in out.stdout, out.stdout)
        check("PASS database reachable" in out.stdout, out.stdout)
        # A README without the limits fails too.
        readme = os.path.join(tmp, "README.md")
        with open(readme, "w") as f:
            f.write("# keyrota\nIt rotates keys.\n")
        out = run(["check", "--eval-run", "ev_" + "A" * 22, "--readme", readme])
        eq(out.returncode, 1)
        check("FAIL README states the limits" in out.stdout, out.stdout)
        check("FAIL eval set passes: no recorded run" in out.stdout, out.stdout)


@test
def check_accepts_a_recent_passing_run_and_refuses_an_old_or_failing_one():
    from harness import psql
    out = run(["eval", EVALS, "--quiet"])
    eq(out.returncode, 0, out.stdout + out.stderr)
    run_id = out.stdout.split("recorded as run ")[1].split()[0]
    readme = ["--readme", os.path.join(ROOT, "README.md")]
    out = run(["check", "--eval-run", run_id] + readme)
    eq(out.returncode, 0, out.stdout + out.stderr)
    check("PASS eval set passes: recorded run %s" % run_id in out.stdout, out.stdout)
    psql("UPDATE eval_runs SET started_at = started_at - interval '8 days', "
         "finished_at = finished_at - interval '8 days' WHERE run_id = :'p1'",
         run_id)
    out = run(["check", "--eval-run", run_id] + readme)
    eq(out.returncode, 1, out.stdout)
    check("FAIL eval set passes: run %s is older than" % run_id in out.stdout, out.stdout)
    psql("UPDATE eval_runs SET started_at = started_at + interval '8 days', "
         "finished_at = finished_at + interval '8 days', failed = 1 WHERE run_id = :'p1'", run_id)
    out = run(["check", "--eval-run", run_id] + readme)
    eq(out.returncode, 1, out.stdout)
    check("had 1 failed cases" in out.stdout, out.stdout)


@test
def a_failing_migration_is_rolled_back_whole():
    from harness import psql
    table = "probe_%s" % os.urandom(4).hex()
    with tempfile.TemporaryDirectory() as tmp:
        sql = os.path.join(tmp, "sql")
        shutil.copytree(os.path.join(ROOT, "sql"), sql)
        with open(os.path.join(sql, "999_fails_halfway.sql"), "w") as f:
            f.write("CREATE TABLE %s (a int);\nINSERT INTO %s VALUES (1);\nSELECT 1/0;\n"
                    % (table, table))
        before = psql("SELECT count(*) FROM schema_migrations")[0][0]
        # Migrations run as the database owner (README, roles).
        from harness import database_url
        out = run(["migrate"], KEYROTA_SQL_DIR=sql, KEYROTA_DATABASE_URL=database_url())
        check(out.returncode != 0, "migrate succeeded: " + out.stdout + out.stderr)
        check("999_fails_halfway" in out.stdout + out.stderr, out.stdout + out.stderr)
        eq(psql("SELECT to_regclass(:'p1') IS NULL", table)[0][0], "t",
           "the half-applied migration's table is gone")
        eq(psql("SELECT count(*) FROM schema_migrations")[0][0], before, "nothing recorded")
        out = run(["check", "--eval-run", "ev_" + "A" * 22, "--readme",
                   os.path.join(ROOT, "README.md")], KEYROTA_SQL_DIR=sql)
        check("FAIL migrations current: 1 pending" in out.stdout, out.stdout)

"""scripts/test's judgement of a suite's log: a suite that crashed, ran
nothing, ran fewer tests than it has, or exited non-zero is a failure."""
import os
import subprocess
import tempfile

import harness
from harness import BUILD, ROOT, check, eq, test

SCRIPT = os.path.join(ROOT, "scripts", "test")


def judge(name, log_text, status=0):
    with tempfile.NamedTemporaryFile("w", suffix=".log") as log:
        log.write(log_text)
        log.flush()
        env = dict(os.environ, KEYROTA_ARTIFACTS=os.path.dirname(log.name))
        out = subprocess.run(["bash", SCRIPT, "count", name, log.name, str(status)],
                             capture_output=True, text=True, timeout=30, env=env)
    return out.returncode, out.stdout


def expected(name):
    out = subprocess.run(["bash", SCRIPT, "expected", name], capture_output=True, text=True,
                         timeout=30)
    eq(out.returncode, 0, out.stderr)
    return int(out.stdout)


@test
def the_counts_scripts_test_expects_are_the_suites_own():
    eq(expected("integration-plain"), len(harness._tests), "integration tests registered")
    unit = subprocess.run([os.path.join(BUILD, "tests", "unit", "test_unit")],
                          capture_output=True, text=True, timeout=120)
    last = unit.stdout.strip().splitlines()[-1]
    p, f = [int(w) for w in last.split() if w.isdigit()][:2]
    eq(expected("unit-asan"), p + f, "unit tests run by " + last)
    with open(os.path.join(ROOT, "evals", "rotations.jsonl")) as f:
        eq(expected("eval"), sum(1 for line in f if line.strip()), "eval cases")


@test
def a_suite_that_ran_fewer_tests_than_it_has_fails():
    n = expected("integration-plain")
    rc, out = judge("integration-plain", "PASS a\nintegration-plain: 3 passed, 0 failed\n")
    eq(rc, 1, out)
    check("ran 3 of its %d tests" % n in out, out)
    rc, out = judge("integration-plain", "integration-plain: %d passed, 0 failed\n" % n)
    eq(rc, 0, out)
    # Skipped cases count as run (the eval set's real-model cases).
    cases = expected("eval")
    rc, out = judge("eval", "eval: %d passed, 0 failed, 4 skipped\n" % (cases - 4))
    eq(rc, 0, out)
    rc, out = judge("eval", "eval: %d passed, 0 failed\n" % (cases - 4))
    eq(rc, 1, out)


@test
def another_suites_summary_or_a_bad_exit_is_no_pass():
    # keyrota check's own eval summary inside the integration log.
    rc, out = judge("integration-asan", "eval: 23 passed, 0 failed\n")
    eq(rc, 1, out)
    check("no summary" in out, out)
    rc, out = judge("integration-asan", "integration-asan: 0 passed, 0 failed\n")
    eq(rc, 1, out)
    rc, out = judge("integration-asan",
                    "integration-asan: %d passed, 0 failed\n" % expected("integration-asan"),
                    status=139)
    eq(rc, 1, out)
    check("exited 139" in out, out)


def lint_src(tmp):
    """scripts/lint run on the C files in tmp instead of src/."""
    return subprocess.run([os.path.join(ROOT, "scripts", "lint")], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, KEYROTA_LINT_SRC=tmp))


@test
def the_sql_lint_reads_a_call_split_over_lines():
    import tempfile as tf
    with tf.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "store.c"), "w") as f:
            f.write('#include <stdio.h>\n'
                    'void q(char *b, unsigned n, const char *who)\n{\n'
                    '\tsnprintf(b, n, "SELECT trace_id FROM traces "\n'
                    '\t    "WHERE account_id = \'%s\'", who);\n}\n')
        out = lint_src(tmp)
        check("FAIL lint.sql_parameterised" in out.stdout, out.stdout)
        check("store.c:4:" in out.stdout, out.stdout)
        with open(os.path.join(tmp, "store.c"), "w") as f:
            f.write('#include <stdio.h>\n'
                    'void q(char *b, unsigned n, int k)\n{\n'
                    '\tsnprintf(b, n, "%d rows "\n\t    "left", k);\n}\n')
        out = lint_src(tmp)
        check("PASS lint.sql_parameterised" in out.stdout, out.stdout)


@test
def the_alloc_lint_refuses_a_bare_allocation_outside_alloc_c():
    # One out-of-memory policy: only src/alloc.c calls malloc and json-c's
    # builders; a bare call anywhere else is named with its line.
    bare = ('#include <stdlib.h>\n#include <json-c/json.h>\n'
            'void *p(struct json_object *o)\n{\n'
            '\tjson_object_object_add(o, "k", json_object_new_string("v"));\n'
            '\treturn malloc(8);\n}\n')
    wrapped = ('#include "alloc.h"\nvoid *p(struct json_object *o)\n{\n'
               '\tkr_json_add(o, "k", kr_json_string("v"));\n'
               '\treturn kr_malloc(8);\n}\n')
    alloc_c = '#include <stdlib.h>\nvoid *kr_malloc(size_t n)\n{\n\treturn malloc(n);\n}\n'
    for files, verdict, named in (({"page.c": bare}, "FAIL lint.alloc", ["page.c:5:", "page.c:6:"]),
                                  ({"page.c": wrapped, "alloc.c": alloc_c}, "PASS lint.alloc", [])):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
            out = lint_src(tmp).stdout
        check(verdict in out, out)
        for where in named:
            check(where in out, out)

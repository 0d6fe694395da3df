#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the tests; prints the URL to use.
# Usage: source .ci/pg.sh  (exports POLICYBOT_TEST_PG_URL and registers a cleanup trap)
set -euo pipefail

pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
if [ -z "$pg_bin" ] && command -v initdb >/dev/null 2>&1; then pg_bin="$(dirname "$(command -v initdb)")"; fi
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL not found: installing it from Debian's packages" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
  fi
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
fi
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL could not be installed: its tests will be skipped" >&2
  return 0 2>/dev/null || exit 0
fi

pg_dir="$(mktemp -d /tmp/policybot-pg.XXXXXX)"
pg_port="${POLICYBOT_TEST_PG_PORT:-55432}"
run_as=()
if [ "$(id -u)" = 0 ]; then
  # postgres refuses to run as root: hand the data directory to the postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$pg_dir"
  run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U policybot --auth=trust -E UTF8 >/dev/null
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c full_page_writes=off" start >/dev/null
"${run_as[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U policybot policybot_test
export POLICYBOT_TEST_PG_URL="postgresql+psycopg://policybot@127.0.0.1:$pg_port/policybot_test"
pg_stop() { "${run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
trap pg_stop EXIT
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port" >&2

#!/usr/bin/env bash
# A PostgreSQL server on localhost for the storage tests (tests/test_workers.py), from Debian's
# packages. Source it (". .ci/postgres.sh"): it exports
#   GREENAUTO_TEST_POSTGRES   the URL the tests use
#   GREENAUTO_REQUIRE_POSTGRES=1   so that an unreachable server fails the tests, never skips them
# Needs root (apt-get, and the server runs as the 'postgres' system user). Idempotent.
set -euo pipefail

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# the newest installed server version, and its cluster (created if the package made none)
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters --no-header | awk '{print $1" "$2}' | grep -qx "$pg_version main"; then
  pg_createcluster "$pg_version" main >/dev/null
fi
pg_port=$(pg_lsclusters --no-header | awk -v v="$pg_version" '$1==v && $2=="main" {print $3}')
if ! pg_lsclusters --no-header | awk -v v="$pg_version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 60); do
  pg_isready -q -h localhost -p "$pg_port" && break
  sleep 1
done
pg_isready -h localhost -p "$pg_port"

# a role and a database for the tests (password login over TCP on localhost)
runuser -u postgres -- psql -q -p "$pg_port" -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'greenauto') THEN
    CREATE ROLE greenauto LOGIN PASSWORD 'greenauto';
  END IF;
END $$;
SQL
if ! runuser -u postgres -- psql -p "$pg_port" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'greenauto_test'" | grep -q 1; then
  runuser -u postgres -- createdb -p "$pg_port" -O greenauto greenauto_test
fi

export GREENAUTO_TEST_POSTGRES="postgresql://greenauto:greenauto@localhost:${pg_port}/greenauto_test"
export GREENAUTO_REQUIRE_POSTGRES=1
echo "PostgreSQL $pg_version on localhost:$pg_port; tests use database greenauto_test"

#!/usr/bin/env bash
# A streaming standby of the machine's main PostgreSQL cluster, for the read-replica tests
# (TEST_DATABASE_READ_URL). Idempotent: a second run finds it running and does nothing.
#
# - the main cluster (port 5432) gets `host replication all 127.0.0.1/32 trust` in its
#   pg_hba.conf when missing, and is RELOADED, never restarted (others use it meanwhile);
# - `pg_basebackup -R` copies it into STANDBY_DIR, which then runs on STANDBY_PORT with
#   pg_ctl as the postgres OS user, replaying the main cluster's WAL as it streams.
#
# Settings: STANDBY_PORT (5433), STANDBY_DIR (/var/lib/postgresql/ase-standby-<port>).
# Prints the standby's URL last.
set -euo pipefail

port="${STANDBY_PORT:-5433}"
dir="${STANDBY_DIR:-/var/lib/postgresql/ase-standby-${port}}"
primary_port=5432

version=$(pg_lsclusters --no-header | awk '$2 == "main" { print $1; exit }')
[ -n "$version" ] || { echo "standby: no main PostgreSQL cluster (pg_lsclusters)" >&2; exit 1; }
bin="/usr/lib/postgresql/${version}/bin"
hba="/etc/postgresql/${version}/main/pg_hba.conf"

# Every PostgreSQL command runs as the postgres OS user (the clusters' owner).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

if pg_isready -h 127.0.0.1 -p "$port" -q; then
  echo "standby: already running on port ${port}"
  echo "postgres://postgres@127.0.0.1:${port}/postgres"
  exit 0
fi

if [ ! -f "${dir}/standby.signal" ]; then
  line='host replication all 127.0.0.1/32 trust'
  if ! grep -qxF "$line" "$hba"; then
    echo "standby: allowing local replication connections in ${hba} (reload, no restart)"
    # Prepended: pg_hba.conf is read top down and the first matching line wins.
    as_postgres sh -c "{ echo '$line'; cat '$hba'; } > '$hba.new' && cat '$hba.new' > '$hba' && rm '$hba.new'"
    as_postgres psql -h 127.0.0.1 -p "$primary_port" -U postgres -qAtc 'select pg_reload_conf()' >/dev/null
    sleep 1
  fi
  rm -rf "$dir"
  install -d -o postgres -g postgres -m 700 "$dir"
  echo "standby: pg_basebackup of 127.0.0.1:${primary_port} into ${dir}"
  as_postgres "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir" -R -X stream -c fast

  # Debian keeps the cluster's configuration under /etc, so the copy has none of its own.
  # A hot standby needs these limits at least as high as its primary's.
  limits=""
  for setting in max_connections max_worker_processes max_wal_senders max_prepared_transactions max_locks_per_transaction; do
    limits+="${setting} = $(as_postgres psql -h 127.0.0.1 -p "$primary_port" -U postgres -qAtc "show ${setting}")"$'\n'
  done
  as_postgres sh -c "cat > '$dir/postgresql.conf'" <<EOF
# Written by scripts/standby.sh: a hot standby of 127.0.0.1:${primary_port}.
port = ${port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '${dir}'
hot_standby = on
hba_file = '${dir}/pg_hba.conf'
ident_file = '${dir}/pg_ident.conf'
${limits}
EOF
  as_postgres sh -c "printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > '$dir/pg_hba.conf' && : > '$dir/pg_ident.conf'"
fi

echo "standby: starting on port ${port}"
as_postgres "$bin/pg_ctl" -D "$dir" -l "${dir}/standby.log" -w -t 60 start >/dev/null
# A standby stopped for long may find the WAL it needs recycled (no replication slot keeps
# it: a slot would hold WAL on the shared main cluster while the standby is away). Then it
# never streams again, and is made afresh.
for _ in $(seq 1 30); do
  receiving=$(psql -h 127.0.0.1 -p "$port" -U postgres -qAtc "select count(*) from pg_stat_wal_receiver where status = 'streaming'")
  [ "$receiving" = 1 ] && break
  sleep 1
done
if [ "$receiving" != 1 ] && [ -z "${STANDBY_REBUILT:-}" ]; then
  echo "standby: not streaming from the main cluster; making it afresh"
  as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
  rm -f "${dir}/standby.signal"
  STANDBY_REBUILT=1 exec "$0"
fi
pg_isready -h 127.0.0.1 -p "$port" -q
in_recovery=$(psql -h 127.0.0.1 -p "$port" -U postgres -qAtc 'select pg_is_in_recovery()')
[ "$in_recovery" = t ] || { echo "standby: the server on port ${port} is not in recovery" >&2; exit 1; }
echo "postgres://postgres@127.0.0.1:${port}/postgres"

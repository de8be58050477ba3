#!/bin/bash
# berth/mariadb entrypoint: the official mariadb image's environment contract.
#
# On the first start (no /var/lib/mysql/mysql) it initialises the datadir with
# mariadb-install-db, sets the root password for root@'%' and root@localhost,
# creates MARIADB_DATABASE and MARIADB_USER when given, runs
# /docker-entrypoint-initdb.d/*.{sql,sql.gz,sh}, then execs mariadbd as PID 1.
# Later starts only exec mariadbd. Runs as mysql (999) and needs no
# capabilities; started as root it re-execs itself as mysql with setpriv.
#
# Variables (each also as NAME_FILE, and as the MYSQL_* name of the official image):
#   MARIADB_ROOT_PASSWORD              required on first start, unless one of:
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD  (MYSQL_ALLOW_EMPTY_PASSWORD) non-empty: root without password
#   MARIADB_RANDOM_ROOT_PASSWORD       non-empty: generate one, printed once to stdout
#   MARIADB_ROOT_HOST                  host of the second root account (default %)
#   MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD
#   MARIADB_INITDB_SKIP_TZINFO         non-empty: do not load the time zone tables
set -euo pipefail
shopt -s nullglob

readonly DATADIR=/var/lib/mysql
readonly RUNDIR=/run/mysqld
# The server that runs during initialisation listens only on this socket, not
# on the default one, so `mariadb-admin ping` (and clients) see the server as
# ready only once the real one runs.
readonly INIT_SOCKET=$RUNDIR/mysqld-init.sock
readonly INCOMPLETE=$DATADIR/.berth-init-incomplete

log() { printf '%s [Note] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
die() {
	printf '%s [ERROR] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2
	exit 1
}

# file_env VAR ALIAS [DEFAULT]: set VAR from VAR, VAR_FILE, ALIAS or ALIAS_FILE.
file_env() {
	local var=$1 alias=$2 def=${3:-} val
	local fvar=${var}_FILE falias=${alias}_FILE
	if [[ -n "${!var+x}" && -n "${!fvar+x}" ]]; then
		die "both $var and $fvar are set (but are exclusive)"
	fi
	if [[ -n "${!var+x}" ]]; then
		val=${!var}
	elif [[ -n "${!fvar+x}" ]]; then
		val=$(<"${!fvar}")
	elif [[ -n "${!alias+x}" ]]; then
		val=${!alias}
	elif [[ -n "${!falias+x}" ]]; then
		val=$(<"${!falias}")
	else
		val=$def
	fi
	printf -v "$var" '%s' "$val"
	unset "$fvar" "$falias"
}

# SQL literals and identifiers built from the environment.
sql_string() {
	local s=${1//\\/\\\\}
	s=${s//\'/\\\'}
	printf "'%s'" "$s"
}
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

# datadir_empty: nothing in the datadir but lost+found (a fresh filesystem).
datadir_empty() {
	[[ -z "$(find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]]
}

init_client() {
	mariadb --protocol=socket --socket="$INIT_SOCKET" --user=root --batch --skip-column-names "$@"
}

init_datadir() {
	file_env MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD
	file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD
	file_env MARIADB_RANDOM_ROOT_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD
	file_env MARIADB_ROOT_HOST MYSQL_ROOT_HOST '%'
	file_env MARIADB_DATABASE MYSQL_DATABASE
	file_env MARIADB_USER MYSQL_USER
	file_env MARIADB_PASSWORD MYSQL_PASSWORD
	file_env MARIADB_INITDB_SKIP_TZINFO MYSQL_INITDB_SKIP_TZINFO

	if [[ -z "$MARIADB_ROOT_PASSWORD" && -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" && -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]]; then
		die "the database is uninitialized and the password option is not specified:
	set MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD"
	fi
	if [[ -n "$MARIADB_USER" && "$MARIADB_USER" == root ]]; then
		die "MARIADB_USER=root: the root account is configured with MARIADB_ROOT_PASSWORD"
	fi
	if [[ -n "$MARIADB_USER" && -z "$MARIADB_PASSWORD" ]]; then
		die "MARIADB_USER is set but MARIADB_PASSWORD is empty"
	fi
	if [[ -n "$MARIADB_RANDOM_ROOT_PASSWORD" && -z "$MARIADB_ROOT_PASSWORD" ]]; then
		MARIADB_ROOT_PASSWORD="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)"
		echo "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	if [[ -e "$INCOMPLETE" ]]; then
		# An earlier first start stopped half-way; everything here is its work.
		log "removing an incomplete initialisation"
		find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name "$(basename "$INCOMPLETE")" \
			-exec rm -rf {} +
	elif ! datadir_empty; then
		die "$DATADIR has files but no mysql/ directory: refusing to initialise over them"
	fi
	: >"$INCOMPLETE"

	log "initialising the database in $DATADIR"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --enforce-storage-engine= \
		--skip-log-bin --expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 "${@:2}" >/dev/null

	log "starting a temporary server (socket only)"
	"$@" --skip-networking --socket="$INIT_SOCKET" --pid-file="$RUNDIR/mysqld-init.pid" \
		--default-time-zone=SYSTEM --loose-wsrep-on=OFF --skip-log-bin --expire-logs-days=0 \
		--skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 &
	local pid=$! i
	for ((i = 0; i < 60; i++)); do
		if init_client -e 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || die "the temporary server exited during initialisation"
		sleep 0.5
	done
	((i < 60)) || die "the temporary server did not start within 30 s"

	if [[ -z "$MARIADB_INITDB_SKIP_TZINFO" && -d /usr/share/zoneinfo ]]; then
		log "loading the time zone tables"
		# --skip-write-binlog: the statements need no replication.
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null | init_client mysql
	fi

	local pw root_host sql
	pw="$(sql_string "$MARIADB_ROOT_PASSWORD")"
	root_host="$(sql_string "$MARIADB_ROOT_HOST")"
	sql="SET @@SESSION.SQL_LOG_BIN=0;
SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');
ALTER USER root@localhost IDENTIFIED BY $pw;
-- The container's own mysql user (uid 999), without privileges: lets
-- mariadb-admin ping and status in the container authenticate instead of
-- logging an access-denied warning on every health check.
CREATE USER IF NOT EXISTS mysql@localhost IDENTIFIED VIA unix_socket;
"
	if [[ "$MARIADB_ROOT_HOST" != localhost ]]; then
		sql+="CREATE USER root@$root_host IDENTIFIED BY $pw;
GRANT ALL ON *.* TO root@$root_host WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO root@$root_host WITH GRANT OPTION;
"
	fi
	if [[ -n "$MARIADB_DATABASE" ]]; then
		log "creating database $MARIADB_DATABASE"
		sql+="CREATE DATABASE IF NOT EXISTS $(sql_ident "$MARIADB_DATABASE");
"
	fi
	if [[ -n "$MARIADB_USER" ]]; then
		log "creating user $MARIADB_USER"
		sql+="CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");
"
		if [[ -n "$MARIADB_DATABASE" ]]; then
			sql+="GRANT ALL ON $(sql_ident "${MARIADB_DATABASE//_/\\_}").* TO $(sql_string "$MARIADB_USER")@'%';
"
		fi
	fi
	log "setting up the root and user accounts"
	printf '%s' "$sql" | init_client

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			log "running $f"
			MYSQL_PWD="$MARIADB_ROOT_PASSWORD" MARIADB_SOCKET="$INIT_SOCKET" bash "$f"
			;;
		*.sql)
			log "running $f"
			MYSQL_PWD="$MARIADB_ROOT_PASSWORD" init_client ${MARIADB_DATABASE:+"--database=$MARIADB_DATABASE"} <"$f"
			;;
		*.sql.gz)
			log "running $f"
			gzip -dc "$f" | MYSQL_PWD="$MARIADB_ROOT_PASSWORD" init_client ${MARIADB_DATABASE:+"--database=$MARIADB_DATABASE"}
			;;
		*) log "ignoring $f" ;;
		esac
	done

	log "stopping the temporary server"
	kill -TERM "$pid"
	wait "$pid" || die "the temporary server did not shut down cleanly"
	rm -f "$INCOMPLETE"
	log "initialisation complete"
}

main() {
	# `docker run IMAGE --some-option`: options for mariadbd.
	if [[ $# -eq 0 || "${1:0:1}" == - ]]; then
		set -- mariadbd "$@"
	fi
	if [[ "$1" != mariadbd && "$1" != mysqld ]]; then
		exec "$@"
	fi

	if [[ "$(id -u)" == 0 ]]; then
		# Started as root (--user 0): fix ownership, drop to mysql. Needs
		# CHOWN, SETUID and SETGID; the image's default user needs none.
		install -d -o mysql -g mysql -m 0755 "$RUNDIR"
		if [[ "$(stat -c %u "$DATADIR")" != "$(id -u mysql)" ]]; then
			chown -R mysql:mysql "$DATADIR"
		fi
		exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
	fi

	mkdir -p "$RUNDIR"
	[[ -w "$DATADIR" ]] || die "$DATADIR is not writable by uid $(id -u): chown it to 999:999"
	if [[ ! -d "$DATADIR/mysql" || -e "$INCOMPLETE" ]]; then
		init_datadir "$@"
	else
		log "$DATADIR is initialised: starting"
	fi
	exec "$@"
}

main "$@"

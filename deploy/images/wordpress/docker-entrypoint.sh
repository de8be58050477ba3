#!/bin/bash
# berth/wordpress entrypoint.
#
#   docker-entrypoint.sh [apache2-foreground]   (the default command)
#       fills an empty wp-content (a fresh volume) with Debian's default
#       content (themes incl. twentytwentythree, akismet), creates the site's
#       secret (wp-content/.berth-secret, the salts' key material) when
#       missing, then execs Apache in the foreground as PID 1.
#   docker-entrypoint.sh berth-init-content
#       only fills an empty wp-content (used when the image is built).
#   docker-entrypoint.sh CMD...
#       runs CMD.
#
# Runs as www-data (33) and needs no capabilities: Apache listens on 8080.
set -euo pipefail

readonly CONTENT=/var/www/html/wp-content

log() { printf 'berth/wordpress: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# content_empty: nothing in wp-content but lost+found (a fresh filesystem).
content_empty() {
	[[ -z "$(find "$CONTENT" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]]
}

init_content() {
	[[ -d "$CONTENT" ]] || die "$CONTENT is missing"
	content_empty || return 0
	[[ -w "$CONTENT" ]] || die "$CONTENT is empty but not writable by uid $(id -u): chown it to 33:33"
	log "initialising $CONTENT with Debian's default content"
	# Debian's layout: the writable skeleton in /var/lib/wordpress/wp-content,
	# the packaged themes and plugins in /usr/share/wordpress/wp-content.
	# Symbolic links are followed: the volume must stand on its own.
	cp -RL --preserve=mode,timestamps /var/lib/wordpress/wp-content/. "$CONTENT/"
	cp -RL --preserve=mode,timestamps /usr/share/wordpress/wp-content/. "$CONTENT/"
	mkdir -p "$CONTENT/uploads" "$CONTENT/upgrade"
}

ensure_secret() {
	local secret=$CONTENT/.berth-secret tmp
	[[ -s "$secret" ]] && return 0
	if [[ ! -w "$CONTENT" ]]; then
		log "warning: $CONTENT is not writable: the salts are derived from the database credentials"
		return 0
	fi
	tmp="$(mktemp "$CONTENT/.berth-secret.XXXXXX")"
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp"
	echo >>"$tmp"
	# link(2) does not replace a file another process wrote meanwhile.
	ln "$tmp" "$secret" 2>/dev/null || true
	rm -f "$tmp"
}

run_apache() {
	# shellcheck source=/dev/null
	. /etc/apache2/envvars
	if ! mkdir -p "$APACHE_RUN_DIR" 2>/dev/null || [[ ! -w "$APACHE_RUN_DIR" ]]; then
		# e.g. --read-only with a root-owned tmpfs on /run: use /tmp.
		export APACHE_RUN_DIR=/tmp/apache2 APACHE_LOCK_DIR=/tmp/apache2 \
			APACHE_PID_FILE=/tmp/apache2/apache2.pid
	fi
	mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR"
	rm -f "$APACHE_PID_FILE"
	exec apache2 -DFOREGROUND "$@"
}

main() {
	if [[ $# -eq 0 || "${1:0:1}" == - ]]; then
		set -- apache2-foreground "$@"
	fi
	case "$1" in
	berth-init-content)
		init_content
		;;
	apache2-foreground)
		shift
		init_content
		ensure_secret
		if [[ "$(id -u)" == 0 ]]; then
			# Started as root (--user 0): Apache drops to www-data itself
			# (needs SETUID, SETGID); give the content to www-data.
			chown -R www-data:www-data "$CONTENT"
		fi
		run_apache "$@"
		;;
	*)
		exec "$@"
		;;
	esac
}

main "$@"

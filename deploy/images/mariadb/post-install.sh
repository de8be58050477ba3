#!/bin/bash
# Runs in the image's chroot after the packages are installed.
set -euo pipefail
# The package's postinst initialised a datadir (unix_socket root, ~110 MB):
# the entrypoint initialises its own on first start, with the password from
# the environment, so the image ships an empty one.
find /var/lib/mysql -mindepth 1 -delete
chown mysql:mysql /var/lib/mysql
chmod 0750 /var/lib/mysql
install -d -o mysql -g mysql -m 0755 /run/mysqld
install -d -m 0755 /docker-entrypoint-initdb.d
rm -rf /var/log/mysql
[ "$(id -u mysql)" = 999 ] || { echo "mysql user is not uid 999" >&2; exit 1; }

#!/bin/bash
# Runs in the image's chroot before the packages are installed.
# The official mariadb image's mysql user is 999:999; using the same IDs keeps
# data volumes portable between the two images and across rebuilds (otherwise
# the ID would depend on the order in which packages create system users).
set -euo pipefail
groupadd --system --gid 999 mysql
useradd --system --uid 999 --gid 999 --home-dir /nonexistent --no-create-home \
	--shell /bin/false --comment 'MySQL Server' mysql

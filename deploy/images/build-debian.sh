#!/usr/bin/env bash
# build-debian.sh builds the local WordPress and MariaDB images from Debian
# bookworm packages, for machines that cannot reach a container registry.
#
#   sudo deploy/images/build-debian.sh [wordpress|mariadb|all]     (default: all)
#
# Images (each honours the official image's environment contract; see the
# README.md next to its Dockerfile):
#   berth/wordpress:dev   Apache + mod_php as www-data (33) on :8080
#   berth/mariadb:dev     mariadbd as mysql (999) on :3306
#
# How: `debootstrap --variant=minbase bookworm` once into a cached tarball
# (shared by both images, kept outside the repository), then per image: unpack
# it, install deploy/images/<name>/packages in a chroot, run the optional
# deploy/images/<name>/{pre,post}-install.sh hooks in the chroot,
# `docker import` the tree as berth/debian-base-<name>:dev and `docker build`
# deploy/images/<name>/Dockerfile on top of it (config files, entrypoint).
# Nothing is pulled: FROM names the imported local image.
#
# Cheap to run again: an image carries the label berth.source-hash, the sha256
# of the files in deploy/images/<name>/ and of this script; an image whose
# label matches is not rebuilt. Security updates of the packages therefore
# arrive only with a forced rebuild (BERTH_IMAGES_FORCE=1).
#
# Needs root (debootstrap, chroot, mount) and a Docker engine; installs
# debootstrap with apt-get when it is missing.
#
# Environment:
#   BERTH_IMAGES_CACHE   base rootfs cache dir (default /var/cache/berth-images)
#   BERTH_IMAGES_FORCE   1: rebuild the images and the cached base rootfs
#   BERTH_DEBIAN_MIRROR  mirror for debootstrap (default http://deb.debian.org/debian)
#   TMPDIR               where the work dir goes (default /var/tmp; ~1 GB)
set -euo pipefail

readonly SUITE=bookworm
readonly TAG=dev
readonly MIRROR="${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly CACHE_DIR="${BERTH_IMAGES_CACHE:-/var/cache/berth-images}"
readonly BASE_TARBALL="$CACHE_DIR/debian-$SUITE-minbase.tar"
readonly FORCE="${BERTH_IMAGES_FORCE:-0}"
readonly CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script_path="$script_dir/$(basename "${BASH_SOURCE[0]}")"
readonly script_dir script_path

work=""
mounts=()

log() { printf 'build-debian: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	echo "usage: $0 [wordpress|mariadb|all]" >&2
	exit 2
}

# cleanup unmounts what this script mounted and removes the work dir. If a
# mount cannot be removed, the work dir is left alone: deleting through a
# live mount would delete the mounted tree.
cleanup() {
	local i ok=1
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		if mountpoint -q "${mounts[i]}"; then
			umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || ok=0
		fi
	done
	mounts=()
	if [[ -n "$work" && -d "$work" ]]; then
		if ((ok)) && ! grep -qF " $work/" /proc/mounts; then
			rm -rf --one-file-system "$work"
		else
			log "left $work in place: something is still mounted below it"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# source_hash NAME: sha256 over the image's directory (relative path,
# executable bit, content of every file) and this script.
source_hash() {
	local dir="$script_dir/$1" f x
	{
		while IFS= read -r -d '' f; do
			x=-
			[[ -x "$dir/$f" ]] && x=x
			printf '%s %s %s\n' "$(sha256sum <"$dir/$f" | cut -d' ' -f1)" "$x" "$f"
		done < <(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z)
		printf '%s script\n' "$(sha256sum <"$script_path" | cut -d' ' -f1)"
	} | sha256sum | cut -d' ' -f1
}

image_hash() {
	docker image inspect --format '{{index .Config.Labels "berth.source-hash"}}' "$1" 2>/dev/null || true
}

# in_chroot ROOT CMD...: run CMD in ROOT with a clean environment.
in_chroot() {
	local root=$1
	shift
	chroot "$root" /usr/bin/env -i PATH="$CHROOT_PATH" HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true "$@"
}

mount_proc() {
	mount -t proc proc "$1/proc"
	mounts+=("$1/proc")
}

umount_proc() {
	umount "$1/proc"
	unset 'mounts[-1]'
}

# write_sources ROOT: bookworm, bookworm-updates and bookworm-security.
# The host's file is used when the host runs bookworm (it may name a local
# mirror or proxy); otherwise a default one is written.
write_sources() {
	local root=$1 codename=""
	codename="$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")" || codename=""
	rm -f "$root/etc/apt/sources.list"
	if [[ "$codename" == "$SUITE" && -f /etc/apt/sources.list.d/debian.sources ]]; then
		cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
	elif [[ "$codename" == "$SUITE" && -s /etc/apt/sources.list ]] && grep -q '^deb ' /etc/apt/sources.list; then
		grep '^deb ' /etc/apt/sources.list >"$root/etc/apt/sources.list"
	else
		cat >"$root/etc/apt/sources.list.d/debian.sources" <<-EOF
			Types: deb
			URIs: $MIRROR
			Suites: $SUITE $SUITE-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb
			URIs: http://deb.debian.org/debian-security
			Suites: $SUITE-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
}

# ensure_base creates the cached minbase tarball unless it exists.
ensure_base() {
	if [[ -s "$BASE_TARBALL" && "$FORCE" != 1 ]]; then
		log "base rootfs: cached $BASE_TARBALL"
		return
	fi
	local root="$work/base" start=$SECONDS
	log "base rootfs: debootstrap --variant=minbase $SUITE (about a minute)"
	if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
		tail -n 30 "$work/debootstrap.log" >&2
		die "debootstrap failed (log above)"
	fi
	write_sources "$root"
	# No documentation, manual pages or translations in the images.
	cat >"$root/etc/dpkg/dpkg.cfg.d/berth-nodoc" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/locale/*
		path-exclude /usr/share/lintian/*
	EOF
	cat >"$root/etc/apt/apt.conf.d/berth-minimal" <<-'EOF'
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
		Acquire::Languages "none";
	EOF
	# Services must not start in the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
	printf 'localhost\n' >"$root/etc/hostname"
	: >"$root/etc/resolv.conf"
	mkdir -p "$CACHE_DIR"
	local tmp
	tmp="$(mktemp "$BASE_TARBALL.XXXXXX")"
	tar -C "$root" --numeric-owner -cf "$tmp" .
	mv -f "$tmp" "$BASE_TARBALL"
	rm -rf --one-file-system "$root"
	log "base rootfs: cached in $BASE_TARBALL ($((SECONDS - start)) s)"
}

# read_packages FILE: the package names in FILE (one or more a line, # comments).
read_packages() {
	sed -e 's/#.*//' "$1" | tr -s ' \t' '\n\n' | sed '/^$/d'
}

# run_hook ROOT FILE: run a hook script from the image directory in the chroot.
run_hook() {
	local root=$1 hook=$2
	[[ -f "$hook" ]] || return 0
	log "  hook $(basename "$hook")"
	install -m 0700 "$hook" "$root/tmp/berth-hook"
	in_chroot "$root" /bin/bash /tmp/berth-hook
	rm -f "$root/tmp/berth-hook"
}

build_image() {
	local name=$1 hash=$2
	local dir="$script_dir/$name" root="$work/$name" image="berth/$name:$TAG"
	local base_image="berth/debian-base-$name:$TAG" start=$SECONDS
	local -a packages
	mapfile -t packages < <(read_packages "$dir/packages")
	((${#packages[@]} > 0)) || die "$dir/packages lists no packages"

	log "$image: installing ${packages[*]}"
	mkdir -p "$root"
	tar -C "$root" --numeric-owner -xpf "$BASE_TARBALL"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	mount_proc "$root"
	run_hook "$root" "$dir/pre-install.sh"
	if ! {
		in_chroot "$root" apt-get update -q &&
			in_chroot "$root" apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade &&
			in_chroot "$root" apt-get -y -q -o Dpkg::Options::=--force-confold \
				install --no-install-recommends "${packages[@]}"
	} >"$work/$name-apt.log" 2>&1; then
		tail -n 40 "$work/$name-apt.log" >&2
		die "$image: package installation failed (log above)"
	fi
	run_hook "$root" "$dir/post-install.sh"
	in_chroot "$root" apt-get clean
	umount_proc "$root"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
		"$root"/var/lib/dpkg/*-old "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
	: >"$root/var/log/dpkg.log"
	: >"$root/etc/resolv.conf"
	log "$image: packages installed ($((SECONDS - start)) s)"

	tar -C "$root" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . |
		docker import -c 'CMD ["/bin/bash"]' - "$base_image" >/dev/null
	rm -rf --one-file-system "$root"
	log "$image: imported $base_image ($((SECONDS - start)) s)"

	local old_id out
	old_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
	# The classic builder works with Debian's 20.10 engine (no buildx) and
	# resolves FROM against local images only when nothing can be pulled.
	if ! out="$(DOCKER_BUILDKIT=0 docker build --label "berth.source-hash=$hash" \
		--build-arg "BASE=$base_image" -t "$image" "$dir" 2>&1)"; then
		printf '%s\n' "$out" >&2
		die "docker build $image failed"
	fi
	# Drop the image the tag pointed to before, unless something still uses it.
	if [[ -n "$old_id" && "$old_id" != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
		docker image rm "$old_id" >/dev/null 2>&1 || true
	fi
	log "$image: built ($((SECONDS - start)) s)"
}

main() {
	(($# <= 1)) || usage
	local -a names
	case "${1:-all}" in
	wordpress | mariadb) names=("$1") ;;
	all) names=(mariadb wordpress) ;;
	*) usage ;;
	esac

	command -v docker >/dev/null || die "docker CLI not found"
	docker version --format '{{.Server.Version}}' >/dev/null || die "no Docker engine reachable"

	local -a todo=() hashes=()
	local name hash
	for name in "${names[@]}"; do
		hash="$(source_hash "$name")"
		if [[ "$FORCE" != 1 && "$(image_hash "berth/$name:$TAG")" == "$hash" ]]; then
			echo "berth/$name:$TAG up to date"
		else
			todo+=("$name")
			hashes+=("$hash")
		fi
	done
	((${#todo[@]} > 0)) || return 0

	if [[ "$(id -u)" != 0 ]]; then
		die "building ${todo[*]} needs root (debootstrap, chroot, mount): run it with sudo"
	fi
	if ! command -v debootstrap >/dev/null; then
		command -v apt-get >/dev/null || die "debootstrap is missing: install it (Debian/Ubuntu: apt-get install debootstrap)"
		log "installing debootstrap"
		apt-get install -y -q debootstrap >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; } ||
			die "could not install debootstrap: apt-get install debootstrap"
	fi

	mkdir -p "$CACHE_DIR"
	# One build at a time per cache (the base tarball, the tags).
	exec 9>"$CACHE_DIR/.lock"
	flock 9

	work="$(mktemp -d "${TMPDIR:-/var/tmp}/berth-images.XXXXXX")"
	ensure_base
	local i
	for i in "${!todo[@]}"; do
		build_image "${todo[i]}" "${hashes[i]}"
		echo "built berth/${todo[i]}:$TAG"
	done
}

main "$@"

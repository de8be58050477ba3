#!/usr/bin/env bash
# build-static.sh builds the berth/static image: a static build of
# ./cmd/berth-static on no base image (deploy/images/static/Dockerfile).
#
#   deploy/images/build-static.sh [TAG]      TAG also from $TAG; default berth/static:dev
#
# It is cheap to run again: the image carries the label berth.source-hash, the
# sha256 of the binary and the Dockerfile, and when an image with TAG already
# has the hash of a fresh build, docker build is skipped. The Go build is
# reproducible (-trimpath, -buildvcs=false), so the hash changes only when the
# server's code, its dependencies, the Go toolchain or the Dockerfile do.
# Nothing is pulled (FROM scratch), so it works without a registry.
set -euo pipefail

tag="${1:-${TAG:-berth/static:dev}}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Build for the engine's architecture; this also fails early, with Docker's
# own message, when no engine is reachable.
arch="$(docker version --format '{{.Server.Arch}}')"

ctx="$(mktemp -d "${TMPDIR:-/tmp}/berth-static.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT

(cd "$repo" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build \
	-trimpath -buildvcs=false -ldflags='-s -w' -o "$ctx/berth-static" ./cmd/berth-static)
cp "$repo/deploy/images/static/Dockerfile" "$ctx/Dockerfile"

hash="$(cd "$ctx" && sha256sum berth-static Dockerfile | sha256sum | cut -d' ' -f1)"
have="$(docker image inspect --format '{{index .Config.Labels "berth.source-hash"}}' "$tag" 2>/dev/null || true)"
if [[ "$have" == "$hash" ]]; then
	echo "$tag up to date"
	exit 0
fi

old_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
# The classic builder works with every engine we run (Debian's 20.10 has no
# buildx); FROM scratch needs no network either way.
if ! out="$(DOCKER_BUILDKIT=0 docker build --label "berth.source-hash=$hash" -t "$tag" "$ctx" 2>&1)"; then
	printf '%s\n' "$out" >&2
	echo "build-static.sh: docker build $tag failed" >&2
	exit 1
fi
# Drop the image the tag pointed to before, unless something still uses it.
if [[ -n "$old_id" ]]; then
	docker image rm "$old_id" >/dev/null 2>&1 || true
fi
echo "built $tag"

#!/usr/bin/env bash
# status-load.sh: load-test a public status page with wrk on loopback.
#
# Runs internal/web's BenchmarkWrk once: the dashboard on the real API and
# SQLite, over TLS on 127.0.0.1, with a published status page of 10 sites
# holding 90 days of per-minute rollups, loaded by wrk plain and gzipped.
#
# Environment: WRK_THREADS (default 2), WRK_CONNECTIONS (default 64),
# WRK_DURATION (default 10s), WRK (default wrk from PATH).
set -euo pipefail

cd "$(dirname "$0")/../.."
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec go test -run '^$' -bench '^BenchmarkWrk$' -benchtime 1x -timeout 30m ./internal/web/

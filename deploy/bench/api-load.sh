#!/usr/bin/env bash
# api-load.sh: load-test berthd's API on loopback.
#
# 1. Runs the Go benchmark BenchmarkAPI (gRPC and REST GetSite/CreateSite
#    against a store of 10,000 sites, 8 concurrent callers, plus berthd's RSS).
# 2. If bin/ghz exists (`make bench` installs it), starts its own berthd in a
#    temporary data dir, seeds SITES sites with ghz (CreateSite, -c 16) and
#    runs ghz GetSite -c 16 -n 20000, round-robin over every seeded site id,
#    using server reflection for the schema.
#
# Environment: BENCHTIME (default 2000x), SITES (default 10000),
# GHZ_N (default 20000), GHZ_C (default 16).
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
benchtime=${BENCHTIME:-2000x}
sites=${SITES:-10000}
ghz_n=${GHZ_N:-20000}
ghz_c=${GHZ_C:-16}

work=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== Go benchmark: BenchmarkAPI, -benchtime $benchtime"
go test -run '^$' -bench BenchmarkAPI -benchtime "$benchtime" ./internal/integration/ | tee "$work/go-bench.txt"

summary() {
	echo
	echo "== Summary"
	grep '^BenchmarkAPI' "$work/go-bench.txt" || true
	for f in "$work"/ghz-*.txt; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .txt)
		rps=$(awk -F'\t' '/Requests\/sec:/ {print $2}' "$f")
		p50=$(awk '/^ *50 % in/ {print $4, $5}' "$f")
		p99=$(awk '/^ *99 % in/ {print $4, $5}' "$f")
		printf '%-16s %10s req/s   p50 %-10s p99 %s\n' "${name#ghz-}" "$rps" "$p50" "$p99"
	done
	if [[ -n ${rss_mib:-} ]]; then
		echo "berthd (ghz run) RSS: $rss_mib MiB with $sites sites"
	fi
}

ghz=$root/bin/ghz
if [[ ! -x $ghz ]]; then
	echo "bin/ghz not found: skipping the ghz run (make bench installs it)"
	summary
	exit 0
fi

echo
echo "== ghz against berthd built without -race"
go build -o "$work/" ./cmd/berthd
data=$work/data
"$work/berthd" --data-dir "$data" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>"$work/berthd.log" &
pid=$!
for _ in $(seq 600); do
	[[ -s $data/berthd.addr ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		cat "$work/berthd.log" >&2
		echo "berthd exited before listening" >&2
		exit 1
	fi
	sleep 0.1
done
addr=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$data/berthd.addr")
if [[ -z $addr ]]; then
	echo "berthd did not write its address within 60s" >&2
	exit 1
fi
port=${addr##*:}
token=$(<"$data/admin.token")
auth="Authorization: Bearer $token"

# rest METHOD PATH [JSON]: an authenticated REST call to the local berthd.
rest() {
	curl -sS --fail --cacert "$data/ca.pem" --resolve "localhost:$port:127.0.0.1" \
		-H "$auth" -H 'Content-Type: application/json' -X "$1" ${3:+-d "$3"} "https://localhost:$port$2"
}

ghz_run() {
	local name=$1
	shift
	"$ghz" --cacert "$data/ca.pem" --cname localhost -m "{\"authorization\":\"Bearer $token\"}" "$@" "$addr" |
		tee "$work/ghz-$name.txt"
	if grep -q 'Error distribution' "$work/ghz-$name.txt"; then
		echo "ghz $name: some calls failed" >&2
		exit 1
	fi
}

client_id=$(rest POST /v1/clients '{"display_name":"Load Ltd","slug":"load","contact_email":"ops@load.test"}' |
	grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)

echo "-- seeding $sites sites: ghz CreateSite -c 16"
ghz_run CreateSite --call berth.v1.SiteService.CreateSite -c 16 -n "$sites" \
	-d "{\"site\":{\"client_id\":\"$client_id\",\"name\":\"g-{{.RequestNumber}}\",\"kind\":\"SITE_KIND_STATIC\",\"primary_domain\":\"g-{{.RequestNumber}}.load.test\"}}"

# Collect every site id, a page of 1000 at a time, as ghz call data: ghz
# sends the elements of a JSON array round-robin.
page_token=
: >"$work/ids"
while :; do
	page=$(curl -sS --fail -G --cacert "$data/ca.pem" --resolve "localhost:$port:127.0.0.1" -H "$auth" \
		--data-urlencode "client_id=$client_id" --data-urlencode page_size=1000 \
		--data-urlencode "page_token=$page_token" "https://localhost:$port/v1/sites")
	grep -o '"id":"[^"]*"' <<<"$page" >>"$work/ids" || true
	page_token=$(grep -o '"next_page_token":"[^"]*"' <<<"$page" | cut -d'"' -f4 || true)
	[[ -n $page_token ]] || break
done
n_ids=$(wc -l <"$work/ids")
if ((n_ids != sites)); then
	echo "listed $n_ids sites, want $sites" >&2
	exit 1
fi
{ echo '['; sed 's/.*/{&},/; $ s/,$//' "$work/ids"; echo ']'; } >"$work/get-data.json"

echo "-- ghz GetSite -c $ghz_c -n $ghz_n over $n_ids sites"
ghz_run GetSite --call berth.v1.SiteService.GetSite -c "$ghz_c" -n "$ghz_n" -D "$work/get-data.json"

rss_mib=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
summary

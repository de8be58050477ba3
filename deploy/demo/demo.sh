#!/usr/bin/env bash
# make demo: start berthd and one node agent on this machine with fresh data
# directories under .demo/, create a demo client, a client user, a WordPress
# site and a static site through the berth CLI, wait until they run and answer
# over HTTPS through the node's edge, publish the client's status page, create
# an admin user for the dashboard, print how to reach everything, and keep
# running until Ctrl-C.
#
# The sites live under .localhost, with certificates from berthd's own CA.
# ACME=pebble runs the same flow against a local Pebble (Let's Encrypt's test
# CA, which `make demo ACME=pebble` installs into bin/) with the sites under .test instead.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
port=${DEMO_PORT:-8443}
metrics_port=${DEMO_METRICS_PORT:-9464}
http_port=${DEMO_HTTP_PORT:-8080}
https_port=${DEMO_HTTPS_PORT:-4443}
agent_metrics_port=${DEMO_AGENT_METRICS_PORT:-9465}
acme=${ACME:-}
demo=$root/.demo
data=$demo/berthd
berth=$root/bin/berth

agent_data=$demo/agent

cleanup_node() {
	# The demo's sites and its node's MariaDB live in Docker, labelled with
	# the demo node's id (in the previous run's agent data); remove them with
	# the demo's data so a new run starts clean. Other nodes' objects on the
	# engine (tests', say) are not the demo's to remove.
	local node legacy filter ids vols nets
	node=$(sed -n 's/.*"node_id": *"\([a-z0-9_]*\)".*/\1/p' "$agent_data/node.json" 2>/dev/null || true)
	[ -n "$node" ] || return 0
	# Before MariaDB was named per node it was berth-mariadb; a node that
	# kept it labels only the container with its id, not the volume and network.
	legacy=$(docker container inspect --format '{{index .Config.Labels "berth.node"}}' berth-mariadb 2>/dev/null || true)
	filter=(--filter label=berth.managed=true --filter "label=berth.node=$node")
	ids=$(docker ps -aq "${filter[@]}" 2>/dev/null || true)
	[ -n "$ids" ] && docker rm -f $ids >/dev/null
	vols=$(docker volume ls -q "${filter[@]}" 2>/dev/null || true)
	[ -n "$vols" ] && docker volume rm $vols >/dev/null
	nets=$(docker network ls -q "${filter[@]}" 2>/dev/null || true)
	[ -n "$nets" ] && docker network rm $nets >/dev/null
	if [ "$legacy" = "$node" ]; then
		docker rm -f berth-mariadb >/dev/null 2>&1 || true
		docker volume rm berth-mariadb-data >/dev/null 2>&1 || true
		docker network rm berth-mariadb >/dev/null 2>&1 || true
	elif [ -z "$legacy" ] && docker container inspect berth-mariadb >/dev/null 2>&1; then
		echo "note: leaving the unlabelled MariaDB berth-mariadb alone (it may be an older demo's or another agent's);" \
			"if it is an older demo's: docker rm -f berth-mariadb && docker volume rm berth-mariadb-data && docker network rm berth-mariadb" >&2
	fi
	return 0
}

cleanup_node
rm -rf "$data" "$agent_data" "$demo/pebble"
mkdir -p "$data" "$agent_data"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true' EXIT
trap 'exit 0' INT TERM

suffix=localhost
agent_acme=()
site_ca=$data/ca.pem
case "$acme" in
"") ;;
pebble)
	# Pebble validates the challenges at the edge's ports on 127.0.0.1,
	# where pebble-challtestsrv resolves every name.
	suffix=test
	mkdir -p "$demo/pebble"
	pebble_dir=$(cd "$root" && go mod download -json github.com/letsencrypt/pebble/v2@v2.10.3 | sed -n 's/.*"Dir": *"\(.*\)",*/\1/p')
	[ -d "$pebble_dir/test/certs" ] || { echo "cannot find Pebble's test certificates (go mod download github.com/letsencrypt/pebble/v2@v2.10.3)" >&2; exit 1; }
	cat >"$demo/pebble/config.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$pebble_dir/test/certs/localhost/cert.pem", "privateKey": "$pebble_dir/test/certs/localhost/key.pem",
  "httpPort": $http_port, "tlsPort": $https_port, "ocspResponderURL": "", "externalAccountBindingRequired": false,
  "retryAfter": {"authz": 1, "order": 1}}}
JSON
	echo "==> starting Pebble on https://127.0.0.1:14000/dir (log in $demo/pebble.log)"
	"$root/bin/pebble-challtestsrv" -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dnsserver 127.0.0.1:8053 -management 127.0.0.1:8055 \
		-http01 "" -https01 "" -tlsalpn01 "" -doh "" >"$demo/challtestsrv.log" 2>&1 &
	pids+=($!)
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 "$root/bin/pebble" -config "$demo/pebble/config.json" -dnsserver 127.0.0.1:8053 \
		>"$demo/pebble.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 100); do
		curl -sf --cacert "$pebble_dir/test/certs/pebble.minica.pem" https://127.0.0.1:15000/roots/0 >"$demo/pebble/root.pem" 2>/dev/null && break
		sleep 0.1
	done
	[ -s "$demo/pebble/root.pem" ] || { echo "Pebble did not start; see $demo/pebble.log" >&2; exit 1; }
	site_ca=$demo/pebble/root.pem
	agent_acme=(--acme-directory https://127.0.0.1:14000/dir --acme-roots "$pebble_dir/test/certs/pebble.minica.pem"
		--acme-email ops@demo.test --internal-suffixes localhost)
	;;
*)
	echo "ACME=$acme: the demo knows only ACME=pebble (a local test CA)" >&2
	exit 2
	;;
esac
echo "==> starting berthd on https://localhost:$port (data in $data, log in $demo/berthd.log)"
"$root/bin/berthd" --data-dir "$data" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" \
	>"$demo/berthd.log" 2>&1 &
pid=$!
pids+=("$pid")

for _ in $(seq 1 300); do
	[ -s "$data/berthd.addr" ] && [ -s "$data/admin.token" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "berthd exited; its log:" >&2
		cat "$demo/berthd.log" >&2
		exit 1
	fi
	sleep 0.1
done
[ -s "$data/berthd.addr" ] || { echo "berthd did not start within 30s; see $demo/berthd.log" >&2; exit 1; }

export BERTH_SERVER="https://localhost:$port" BERTH_CA="$data/ca.pem" BERTH_CONFIG="$demo/cli.json"
BERTH_TOKEN=$(cat "$data/admin.token")
export BERTH_TOKEN

id_of() { sed -n 's/.*"id": *"\([a-z]*_[a-z0-9]*\)".*/\1/p' | head -n 1; }
# new_password prints a random password of about 24 letters and digits.
new_password() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }

echo "==> joining this machine as node demo-node (agent log in $demo/agent.log)"
join_token=$("$berth" node join-token -o json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
"$root/bin/berth-agent" --server "$BERTH_SERVER" --join-token "$join_token" --data-dir "$agent_data" \
	--node-name demo-node --http-listen "127.0.0.1:$http_port" --https-listen "127.0.0.1:$https_port" \
	--metrics-listen "127.0.0.1:$agent_metrics_port" "${agent_acme[@]}" >"$demo/agent.log" 2>&1 &
pids+=($!)

echo "==> creating the demo client, a client user and two sites"
client=$("$berth" client create --name "Demo Agency Client" --slug demo --email ops@demo.localhost -o json | id_of)
blog_domain=blog.demo.$suffix
www_domain=www.demo.$suffix
client_password=$(new_password)
printf '%s\n' "$client_password" | "$berth" user create --email owner@demo.localhost --role client --client "$client" --password-stdin >/dev/null
blog=$("$berth" site create --client "$client" --name blog --kind wordpress --domain "$blog_domain" \
	--title "Demo Blog" --admin-email owner@demo.localhost --no-wait -o json | id_of)
www=$("$berth" site create --client "$client" --name www --kind static --domain "$www_domain" --alias "demo.$suffix" \
	--redirect-aliases --memory 64 --no-wait -o json | id_of)
public=$(mktemp -d)
cat >"$public/index.html" <<'HTML'
<!doctype html><meta charset="utf-8"><title>Berth demo</title>
<h1>Hello from Berth</h1><p>This static site runs in a container on the demo node.</p>
HTML
echo "==> publishing the client's status page and creating a dashboard admin"
"$berth" client update "$client" --status-page on --status-page-sites "$www,$blog" \
	--status-page-color '#2454d6' >/dev/null
admin_email=admin@demo.localhost
admin_password=$(new_password)
printf '%s\n' "$admin_password" | "$berth" user create --email "$admin_email" --role admin --password-stdin >/dev/null
echo "==> deploying a release to the static site and waiting for both sites to run"
"$berth" site deploy "$www" "$public" >/dev/null
rm -rf "$public"
"$berth" site wait "$www" >/dev/null
"$berth" site wait "$blog" >/dev/null
"$berth" site list
echo "==> waiting for the sites' HTTPS certificates"
for domain in "$www_domain" "$blog_domain"; do
	for _ in $(seq 1 300); do
		curl -sf -o /dev/null --cacert "$site_ca" --resolve "$domain:$https_port:127.0.0.1" "https://$domain:$https_port/" && break
		sleep 0.2
	done
	curl -sSf -o /dev/null --cacert "$site_ca" --resolve "$domain:$https_port:127.0.0.1" "https://$domain:$https_port/" ||
		{ echo "https://$domain:$https_port/ does not answer; see $demo/agent.log" >&2; exit 1; }
done
"$berth" site get "$www" | sed -n '/^Certificates:/,/^$/p'

dashboard=https://localhost:$port
month=$(date -u +%Y-%m)
for path in /login /status/demo; do
	curl -sSf -o /dev/null --cacert "$data/ca.pem" "$dashboard$path" ||
		{ echo "$dashboard$path does not answer; see $demo/berthd.log" >&2; exit 1; }
done

cat <<MSG

Berth is running.
  API (gRPC + REST):  https://localhost:$port   (OpenAPI: https://localhost:$port/openapi.json)
  CA certificate:     $data/ca.pem
  Admin token:        $BERTH_TOKEN   (also in $data/admin.token)
  Client user:        owner@demo.localhost / $client_password
  Metrics:            http://localhost:$metrics_port/metrics (berthd), http://localhost:$agent_metrics_port/metrics (node)

Try:
  export BERTH_SERVER=$BERTH_SERVER BERTH_CA=$BERTH_CA BERTH_TOKEN=\$(cat $data/admin.token)
  $berth site list
  curl --cacert $data/ca.pem -H "Authorization: Bearer \$BERTH_TOKEN" https://localhost:$port/v1/sites

The node's edge serves the sites over HTTPS (certificates verified by $site_ca):
  curl --cacert $site_ca --resolve $www_domain:$https_port:127.0.0.1 https://$www_domain:$https_port/
  curl --cacert $site_ca --resolve $blog_domain:$https_port:127.0.0.1 https://$blog_domain:$https_port/
  Plain HTTP on port $http_port redirects to HTTPS.
WordPress admin password (shown once): $berth site credentials $blog

Dashboard (berthd's certificate is from its own CA: trust $data/ca.pem, or accept the browser's warning):
  Ops console:        $dashboard/   log in as $admin_email / $admin_password
  Client portal:      $dashboard/portal   log in as owner@demo.localhost / $client_password
  Status page:        $dashboard/status/demo   (public, no login)
  SLA report:         $dashboard/clients/$client/reports/$month   (add .csv for the CSV)

Press Ctrl-C to stop berthd and the agent.
MSG
wait "$pid"

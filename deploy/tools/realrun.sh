#!/usr/bin/env bash
# realrun.sh OUT.png: a real run of split cspm processes on loopback,
# scraped by a real Prometheus, then the Grafana dashboard's queries
# rendered from that Prometheus into OUT.png (deploy/tools/dashshot).
#
# Topology (one host, what this machine can run: no Docker, no MongoDB):
#   a 3-node NATS JetStream cluster (nats-server built from the module in go.mod);
#   cspm relay+projector (owner of the SQLite data directory), 2 cspm api
#   processes sharing that directory, 1 cspm worker; every one with
#   --ops-addr; Prometheus (Debian's package) scraping them every 2 s.
# Workload (about 4 minutes): scans with findings through both APIs, bad
# requests (400), three Prowler OCSF imports, and the relay+projector
# process killed with SIGKILL for 20 s then restarted (lag builds, then
# drains).
#
# Needs: go, curl, jq, prometheus. Run from the repository root.
set -euo pipefail
OUT=${1:?usage: realrun.sh OUT.png}
OUT=$(realpath -m "$OUT")
cd "$(dirname "$0")/../.."
W=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

echo "building into $W"
go build -o "$W/cspm" ./cmd/cspm
go build -o "$W/prowlergen" ./platform/parsers/prowler/prowlergen/cmd/prowlergen
GOFLAGS=-mod=mod go build -o "$W/nats-server" github.com/nats-io/nats-server/v2
(cd deploy/tools/dashshot && go build -o "$W/dashshot" .)

NATS_URL=nats://127.0.0.1:14222,nats://127.0.0.1:14223,nats://127.0.0.1:14224
for i in 0 1 2; do
	routes=""
	for j in 0 1 2; do [ "$j" = "$i" ] || routes+="${routes:+,}nats://127.0.0.1:1622$j"; done
	mkdir -p "$W/nats$i"
	"$W/nats-server" -js -sd "$W/nats$i" -a 127.0.0.1 -p "1422$((2 + i))" -n "nats$i" -m "1822$i" \
		--cluster_name cspm --cluster "nats://127.0.0.1:1622$i" --routes "$routes" >"$W/nats$i.log" 2>&1 &
	PIDS+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:1822$i/healthz?js-enabled-only=true" >/dev/null && break; sleep 0.2; done
done

D=$W/data
export CSPM_AUDIT_DIR=$W/audit CSPM_DATA_DIR=$D CSPM_LOG_FORMAT=json CSPM_RATE_LIMIT=0
start_owner() {
	"$W/cspm" serve --roles relay,projector --nats-url "$NATS_URL" --http-addr 127.0.0.1:18090 \
		--ops-addr 127.0.0.1:19103 >>"$W/owner.log" 2>&1 &
	OWNER=$!
	PIDS+=("$OWNER")
}
start_owner
for _ in $(seq 200); do curl -fs http://127.0.0.1:19103/readyz >/dev/null && break; sleep 0.1; done
"$W/cspm" serve --roles api --http-addr 127.0.0.1:18081 --ops-addr 127.0.0.1:19101 >"$W/api1.log" 2>"$W/api1.err" &
PIDS+=($!)
for _ in $(seq 200); do curl -fs http://127.0.0.1:18081/readyz >/dev/null && break; sleep 0.1; done
"$W/cspm" serve --roles api --http-addr 127.0.0.1:18082 --ops-addr 127.0.0.1:19102 >"$W/api2.log" 2>"$W/api2.err" &
PIDS+=($!)
"$W/cspm" serve --roles worker --nats-url "$NATS_URL" --ops-addr 127.0.0.1:19104 >"$W/worker.log" 2>&1 &
PIDS+=($!)
for p in 18082 19104; do
	for _ in $(seq 200); do curl -fs "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done

cat >"$W/prometheus.yml" <<EOF
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: [$PWD/deploy/prometheus/alerts.yaml]
scrape_configs:
  - job_name: cspm
    static_configs:
      - {targets: ["127.0.0.1:19101", "127.0.0.1:19102"], labels: {role: api}}
      - {targets: ["127.0.0.1:19103"], labels: {role: "relay,projector"}}
      - {targets: ["127.0.0.1:19104"], labels: {role: worker}}
EOF
prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/prom" \
	--web.listen-address=127.0.0.1:19090 >"$W/prometheus.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs http://127.0.0.1:19090/-/ready >/dev/null && break; sleep 0.2; done

KEY=$(cat "$D/admin.key")
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "workload from $START"
post() { # API PATH BODY -> body
	curl -s -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
		--data "$3" "http://127.0.0.1:$1$2"
}
scan_round() { # API N
	local id findings
	id=$(post "$1" /api/v1/scans '{"account_id":"123456789012","provider":"aws","tool":"prowler"}' | jq -r '.data.stream_id' | sed 's/^scan-//')
	post "$1" "/api/v1/scans/$id/start" '' >/dev/null
	findings=$(jq -nc --argjson n "$2" --arg s "$id" '{findings: [range($n) | {check_id: "check_\(. % 7)", title: "finding \(.)", severity: (["low","medium","high","critical"][. % 4]), resource_id: "arn:aws:s3:::bucket-\($s)-\(.)", region: "eu-west-1"}]}')
	post "$1" "/api/v1/scans/$id/findings" "$findings" >/dev/null
	post "$1" "/api/v1/scans/$id/complete" '{"resource_count": 10}' >/dev/null
	post "$1" /api/v1/scans '{"account_id":"","provider":"aws","tool":"prowler"}' >/dev/null # a 400
}
steady() { # SECONDS
	local end=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$end" ]; do
		scan_round 18081 20
		scan_round 18082 20
	done
}
steady 45
for i in 1 2 3; do
	"$W/prowlergen" -n 4000 -seed "$i" -accounts 2 -o "$W/scan$i.ocsf.json"
	"$W/cspm" import "$W/scan$i.ocsf.json" --server http://127.0.0.1:18081 >/dev/null 2>&1 || echo "import $i failed"
	steady 10
done
steady 20
echo "SIGKILL the relay+projector process for 20 s"
kill -KILL "$OWNER"
steady 20
start_owner
steady 60
sleep 10
END=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "workload to $END; rendering $OUT"
"$W/dashshot" -prometheus http://127.0.0.1:19090 -dashboard deploy/grafana/cspm.json \
	-start "$START" -end "$END" -step 2s -rate-interval 10s -out "$OUT"
curl -s "http://127.0.0.1:19090/api/v1/query?query=count(up%7Bjob%3D%22cspm%22%7D%3D%3D1)" | jq -c '.data.result'
"$W/cspm" events verify --data-dir "$D" || echo "events verify failed"
echo "logs in $W"
trap - EXIT
cleanup

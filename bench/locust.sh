#!/usr/bin/env bash
# The original Locust scenario, headless: npm run bench:locust [-- USERS SECONDS]
# Targets LOCUST_HOST (default http://127.0.0.1:8080); when nothing answers there, it runs
# `sentinel all` on that loopback address for the duration (bringing the local stack up first
# unless KAFKA_BROKERS names a Kafka already), then stops it. Installs Debian's python3-locust when
# missing. CSV stats land in bench/results/locust_*.csv. Exits 1 when any request failed, or when
# the service it started never became ready (its log's tail is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-${LOCUST_USERS:-50}}"
seconds="${2:-${LOCUST_SECONDS:-30}}"
host="${LOCUST_HOST:-http://127.0.0.1:8080}"
results="${LOCUST_RESULTS:-bench/results}"

if [ ! -x /usr/bin/locust ]; then
  echo "installing python3-locust (Debian)…"
  apt-get install -y python3-locust >/dev/null || { apt-get update >/dev/null && apt-get install -y python3-locust >/dev/null; }
fi

mkdir -p "$results"
started=""
if ! curl -fs "$host/healthz" >/dev/null 2>&1; then
  # Without API keys the service starts only on a loopback address (AUTH_DISABLED): listen on the
  # host and port Locust targets, which are loopback.
  hostport="${host#*://}"
  listen_host="${hostport%:*}"
  listen_port="${hostport##*:}"
  echo "nothing answers at $host: starting sentinel all on $listen_host:$listen_port"
  if [ -z "${KAFKA_BROKERS:-}" ]; then npm run -s stack:up; fi
  # `sentinel all` runs the webhooks too, which refuse the development key outside `sentinel dev`.
  AUTH_DISABLED=true HOST="$listen_host" PORT="$listen_port" METRICS_PORT=0 LOG_LEVEL=warn \
    WEBHOOK_SECRET_KEY="${WEBHOOK_SECRET_KEY:-$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')}" \
    node bin/sentinel.ts all > "$results/locust-sentinel.log" 2>&1 &
  started=$!
  ready=""
  for _ in $(seq 1 120); do
    if curl -fs "$host/readyz" >/dev/null 2>&1; then ready=1; break; fi
    if ! kill -0 "$started" 2>/dev/null; then break; fi
    sleep 0.5
  done
  if [ -z "$ready" ]; then
    echo "FAIL: sentinel all did not become ready at $host; its log ends:" >&2
    tail -20 "$results/locust-sentinel.log" >&2
    exit 1
  fi
fi
cleanup() { if [ -n "$started" ]; then kill -TERM "$started" 2>/dev/null; wait "$started" 2>/dev/null || true; fi; }
trap cleanup EXIT

# /usr/bin/python3 explicitly: the Debian package, whatever python3 comes first on PATH.
/usr/bin/python3 -m locust -f bench/locustfile.py --headless --host "$host" \
  --users "$users" --spawn-rate "$users" --run-time "${seconds}s" --only-summary \
  --csv "$results/locust" 2>&1 | tail -25
echo "CSV: $results/locust_stats.csv"
# The Aggregated row: Request Count (col 3) and Failure Count (col 4).
read -r requests failures < <(awk -F, '$2 == "Aggregated" { print $3, $4 }' "$results/locust_stats.csv")
echo "locust_requests=$requests"
echo "locust_failures=$failures"
if [ "${requests:-0}" -eq 0 ] || [ "${failures:-1}" -ne 0 ]; then
  echo "FAIL: $failures of $requests requests failed" >&2
  exit 1
fi

#!/usr/bin/env bash
# The original Locust scenario, headless: npm run bench:locust [-- USERS SECONDS]
# Targets LOCUST_HOST (default http://127.0.0.1:8080); when nothing answers there, it brings the
# local stack up and runs `sentinel all` for the duration, then stops it. Installs Debian's
# python3-locust when missing. CSV stats land in bench/results/locust_*.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-${LOCUST_USERS:-50}}"
seconds="${2:-${LOCUST_SECONDS:-30}}"
host="${LOCUST_HOST:-http://127.0.0.1:8080}"

if [ ! -x /usr/bin/locust ]; then
  echo "installing python3-locust (Debian)…"
  apt-get install -y python3-locust >/dev/null || { apt-get update >/dev/null && apt-get install -y python3-locust >/dev/null; }
fi

started=""
if ! curl -fs "$host/healthz" >/dev/null 2>&1; then
  echo "nothing answers at $host: starting the local stack and sentinel all"
  npm run -s stack:up
  AUTH_DISABLED=true LOG_LEVEL=warn node bin/sentinel.ts all > bench/results/locust-sentinel.log 2>&1 &
  started=$!
  for _ in $(seq 1 60); do curl -fs "$host/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
fi
cleanup() { if [ -n "$started" ]; then kill -TERM "$started" 2>/dev/null; wait "$started" 2>/dev/null || true; fi; }
trap cleanup EXIT

mkdir -p bench/results
# /usr/bin/python3 explicitly: the Debian package, whatever python3 comes first on PATH.
/usr/bin/python3 -m locust -f bench/locustfile.py --headless --host "$host" \
  --users "$users" --spawn-rate "$users" --run-time "${seconds}s" --only-summary \
  --csv bench/results/locust 2>&1 | tail -25
echo "CSV: bench/results/locust_stats.csv"

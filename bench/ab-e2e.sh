#!/usr/bin/env bash
# Before and after, side by side: bash bench/ab-e2e.sh <before-commit> [runs]
# Runs `node bench/e2e.ts --quick` in a worktree of <before-commit> (with this checkout's bench
# harness copied in, so both sides are measured the same way) and in this checkout, alternating,
# `runs` times each (default 2), on the local stack (`npm run stack:up` first). Prints each run's
# rounds and closing lines; docs/performance.md's issue-38 table came from it. AB_E2E_ARGS replaces
# `--quick` (e.g. "--quick --no-search": the fixed rates only, about a minute a run).
set -euo pipefail
cd "$(dirname "$0")/.."
before="${1:?usage: bench/ab-e2e.sh <before-commit> [runs]}"
runs="${2:-2}"
read -r -a args <<<"${AB_E2E_ARGS:---quick}"
here="$PWD"
tree="${TMPDIR:-/tmp}/sentinel-before-$(git rev-parse --short "$before")"
if [ ! -d "$tree" ]; then
  git worktree add -f --detach "$tree" "$before" >/dev/null
  # The same dependencies are shared; a side with other kafkajs patches (or packages) installs its own.
  if git diff --quiet "$before" HEAD -- patches package-lock.json; then
    ln -s "$here/node_modules" "$tree/node_modules"
  else
    (cd "$tree" && PATH="$here/node_modules/.bin:$PATH" npm ci --no-audit --no-fund >/dev/null)
  fi
fi
cp bench/e2e.ts "$tree/bench/e2e.ts"
cp bench/lib/*.ts "$tree/bench/lib/"
export PATH="$here/node_modules/.bin:$PATH"
export SENTINEL_STACK_DIR="${SENTINEL_STACK_DIR:-$here/.stack}"
for i in $(seq 1 "$runs"); do
  for side in before after; do
    dir="$tree"
    [ "$side" = after ] && dir="$here"
    echo "=== $side run $i ($dir)"
    (cd "$dir" && node bench/e2e.ts "${args[@]}" 2>&1 | grep -E "sync e2e at|search at|idle:|^(sync_|e2e_|idle_|ingress_peak)")
  done
done

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadResult } from "./http-load.ts";

/*
 * Saturation throughput with wrk (C, epoll): it needs a fraction of a core where a JavaScript load
 * generator needs a whole one, which on a 2-core machine would otherwise be taken from the server
 * under test. Installed from Debian's packages when missing.
 */

const LUA = `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = '{"user_id":"bench-' .. n .. '","amount":"42.50","currency":"USD","merchant_id":"m-1001",' ..
    '"merchant_category":"5411","country":"US","channel":"ecommerce","device_id":"dev-' .. n .. '",' ..
    '"ip":"203.0.113.7","metadata":{"order":"o-' .. n .. '"}}'
  return wrk.format(nil, nil, nil, body)
end
`;

export function ensureWrk(): void {
  if (spawnSync("wrk", ["--version"]).error === undefined) return;
  const install = spawnSync(
    "sh",
    ["-c", "apt-get install -y wrk || (apt-get update && apt-get install -y wrk)"],
    {
      stdio: "inherit",
    },
  );
  if (install.status !== 0)
    throw new Error("wrk is needed for the saturation benchmark: apt-get install wrk");
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/** `connections` keep-alive connections for `seconds`, one wrk thread; a body per request as in http-load.ts. */
export function wrkSaturate(url: string, seconds: number, connections = 64): LoadResult {
  const script = join(mkdtempSync(join(tmpdir(), "wrk-")), "post.lua");
  writeFileSync(script, LUA);
  const r = spawnSync(
    "wrk",
    ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, `${url}/transaction`],
    {
      encoding: "utf8",
      timeout: (seconds + 30) * 1000,
    },
  );
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const pct = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "");
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    requests,
    non2xx,
    errors: errors ? Number(errors[1]) + Number(errors[2]) + Number(errors[3]) : 0,
    timeouts: errors ? Number(errors[4]) : 0,
    latencyMs: {
      p50: pct("50"),
      p90: pct("90"),
      p99: pct("99"),
      max: ms(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ""),
    },
  };
}

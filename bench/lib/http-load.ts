import autocannon from "autocannon";

/*
 * Fixed-rate HTTP load with autocannon, the same for the bare baseline and the real ingress. Bodies
 * carry a random user per request ([<id>] replacement) and no transaction_id (the server assigns
 * it), like wrk's (wrk.ts).
 */

export const BODY = JSON.stringify({
  user_id: "bench-[<id>]",
  amount: "42.50",
  currency: "USD",
  merchant_id: "m-1001",
  merchant_category: "5411",
  country: "US",
  channel: "ecommerce",
  device_id: "dev-[<id>]",
  ip: "203.0.113.7",
  metadata: { order: "o-[<id>]" },
});

export type Latency = { p50: number; p90: number; p99: number; max: number };
export type LoadResult = {
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: Latency;
};

function run(opts: autocannon.Options): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (error, r) => {
      if (error) return reject(error);
      resolve({
        rps: r.requests.average,
        requests: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      });
    });
  });
}

const base = (url: string) => ({
  url: `${url}/transaction`,
  method: "POST" as const,
  headers: { "content-type": "application/json" },
  body: BODY,
  idReplacement: true,
});

/** A fixed request rate; latencies corrected for coordinated omission. */
export function fixedRate(url: string, rate: number, seconds: number): Promise<LoadResult> {
  return run({
    ...base(url),
    connections: Math.max(8, Math.ceil(rate / 100)),
    overallRate: rate,
    duration: seconds,
  });
}

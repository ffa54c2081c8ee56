import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { IHeaders } from "kafkajs";

/*
 * Traces across Kafka (issue 22): one trace per transaction — the HTTP request, its produce, the
 * scorer's round phases for it and the sync answer — carried between processes by a W3C
 * `traceparent` in the Kafka message headers. Exported over OTLP/HTTP (JSON) when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise nothing is set up, every helper here returns at its
 * first line and no header is added.
 *
 * Spans are made by hand rather than by @opentelemetry/instrumentation-kafkajs: that package
 * patches kafkajs through require hooks (our ESM modules would need import hooks loaded before
 * anything else), and it makes a span per send and per batch, where ours are per transaction —
 * one produce request carries hundreds of transactions, one round scores thousands.
 */

const tracer = () => trace.getTracer("sentinelstream");
let enabled = false;

/** Whether spans are recorded and exported in this process. */
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Starts exporting spans when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTEL_SERVICE_NAME names the
 * process, `serviceName` by default). Returns what flushes and stops it.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): () => Promise<void> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return async () => {};
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? serviceName }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 1000),
        maxQueueSize: 20_000,
        maxExportBatchSize: 2_000,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  enabled = true;
  return async () => {
    enabled = false;
    await provider.shutdown().catch(() => {});
  };
}

/** A started span and the context that has it as parent. */
export type Traced = { span: Span; ctx: Context };

/** Starts a span under `parent` (the active context when absent); undefined when tracing is off. */
export function startSpan(name: string, options: SpanOptions = {}, parent?: Context): Traced | undefined {
  if (!enabled) return undefined;
  const base = parent ?? context.active();
  const span = tracer().startSpan(name, options, base);
  return { span, ctx: trace.setSpan(base, span) };
}

/** Ends `t` with these attributes (nothing when tracing is off). */
export function endSpan(
  t: Traced | undefined,
  attributes: Record<string, string | number> = {},
  endMs?: number,
) {
  if (!t) return;
  t.span.setAttributes(attributes);
  t.span.end(endMs);
}

/** The W3C headers carrying `t`'s context, for a Kafka message or an HTTP request (undefined when off). */
export function traceHeaders(t: Traced | undefined): Record<string, string> | undefined {
  if (!t) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(t.ctx, carrier);
  return carrier;
}

/** The context a message's (or request's) `traceparent` carries; undefined when off or absent. */
export function contextFrom(headers: IHeaders | Record<string, unknown> | undefined): Context | undefined {
  if (!enabled || !headers?.traceparent) return undefined;
  const carrier: Record<string, string> = {};
  for (const key of ["traceparent", "tracestate"]) {
    const v = headers[key];
    if (v !== undefined) carrier[key] = Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
  }
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * Records phases that already happened (their start and end, ms since the epoch) as spans under
 * `parent`: the scorer measures a round's phases once and records them for each transaction.
 */
export function recordPhases(
  name: string,
  parent: Context,
  startMs: number,
  phases: ReadonlyArray<{ name: string; startMs: number; endMs: number }>,
  endMs: number,
  attributes: Record<string, string | number>,
): void {
  if (!enabled) return;
  const span = tracer().startSpan(name, { kind: SpanKind.CONSUMER, startTime: startMs, attributes }, parent);
  const ctx = trace.setSpan(parent, span);
  for (const p of phases) tracer().startSpan(p.name, { startTime: p.startMs }, ctx).end(p.endMs);
  span.end(endMs);
}

export { SpanKind };

// The standard OpenTelemetry variables (OTEL_*) that turn tracing on and shape it, read
// here like every other setting, so that a `.env` file works for them too and a typo
// stops start-up naming the variable. Tracing is on only when an OTLP endpoint is set
// (or OTEL_TRACES_EXPORTER=console), and OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none turns it off again.

import { ConfigError } from './config-error.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type TraceSampler = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

export interface TracingConfig {
  exporter: 'otlp' | 'console';
  /** The full traces URL (`…/v1/traces`); null for the console exporter. */
  url: string | null;
  protocol: OtlpProtocol;
  /** OTEL_EXPORTER_OTLP(_TRACES)_HEADERS: sent with every export (a hosted backend's API key). */
  headers: Record<string, string>;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES. */
  resourceAttributes: Record<string, string>;
  sampler: TraceSampler;
  /** The ratio of the traceidratio samplers, in [0, 1]. */
  samplerRatio: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const SAMPLERS: readonly TraceSampler[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

function value(env: Env, name: string): string | undefined {
  const trimmed = env[name]?.trim();
  return trimmed === '' ? undefined : trimmed;
}

function httpUrl(name: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an http or https URL, got "${raw}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(name, `must be an http or https URL, got "${raw}"`);
  return raw;
}

/** `key1=value1,key2=value2`, values percent-encoded (the OpenTelemetry format of headers and resource attributes). */
function keyValues(env: Env, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of (value(env, name) ?? '').split(',')) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    const key = at < 0 ? '' : item.slice(0, at).trim();
    // The value is not quoted back: headers carry API keys.
    if (key === '') throw new ConfigError(name, 'must be a comma-separated list of key=value pairs');
    try {
      result[key] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      throw new ConfigError(name, `has a value for "${key}" that is not validly percent-encoded`);
    }
  }
  return result;
}

function protocol(env: Env): OtlpProtocol {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const raw = value(env, name);
    if (raw === undefined) continue;
    if (raw === 'http/protobuf' || raw === 'http/json') return raw;
    throw new ConfigError(name, `must be http/protobuf or http/json (gRPC is not supported; OTLP/HTTP listens on port 4318), got "${raw}"`);
  }
  return 'http/protobuf';
}

function sampler(env: Env): { sampler: TraceSampler; samplerRatio: number } {
  const raw = (value(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase();
  if (!SAMPLERS.includes(raw as TraceSampler)) throw new ConfigError('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}, got "${raw}"`);
  const ratioRaw = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  let samplerRatio = 1;
  if (ratioRaw !== undefined && raw.endsWith('traceidratio')) {
    samplerRatio = Number(ratioRaw);
    if (!/^\d*\.?\d+$/.test(ratioRaw) || samplerRatio > 1)
      throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `must be a ratio between 0 and 1, got "${ratioRaw}"`);
  }
  return { sampler: raw as TraceSampler, samplerRatio };
}

/** null: tracing off (no OTLP endpoint, or switched off). */
export function parseTracing(env: Env): TracingConfig | null {
  const disabled = value(env, 'OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    throw new ConfigError('OTEL_SDK_DISABLED', `must be true or false, got "${disabled}"`);
  }
  const exporterRaw = value(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase() ?? 'otlp';
  if (exporterRaw !== 'otlp' && exporterRaw !== 'console' && exporterRaw !== 'none') {
    throw new ConfigError('OTEL_TRACES_EXPORTER', `must be otlp, console or none, got "${exporterRaw}"`);
  }
  const tracesEndpoint = value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (disabled === 'true' || exporterRaw === 'none') return null;
  if (exporterRaw === 'otlp' && tracesEndpoint === undefined && endpoint === undefined) return null;

  let url: string | null = null;
  if (exporterRaw === 'otlp') {
    // The signal's own endpoint is used as given; the general one gets the signal's path (OTLP/HTTP).
    url =
      tracesEndpoint !== undefined
        ? httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
        : `${httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint!).replace(/\/+$/, '')}/v1/traces`;
  }
  return {
    exporter: exporterRaw,
    url,
    protocol: protocol(env),
    headers: { ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS'), ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') },
    serviceName: value(env, 'OTEL_SERVICE_NAME') ?? 'app-store-entitlements',
    resourceAttributes: keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES'),
    ...sampler(env),
  };
}

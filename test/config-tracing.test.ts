import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { parseTracing } from '../src/config-tracing.js';
import { readSecretFiles } from '../src/load-config.js';
import { testConfig } from './helpers/app.js';

const ENDPOINT = 'http://collector:4318';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    parseTracing(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('tracing settings (OTEL_*)', () => {
  it('leaves tracing off without an OTLP endpoint, whatever else is set', () => {
    expect(parseTracing({})).toBeNull();
    expect(parseTracing({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeNull();
    expect(testConfig().tracing).toBeNull();
  });

  it('turns tracing on with the general endpoint, adding the traces path', () => {
    expect(parseTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: `${ENDPOINT}/` })).toEqual({
      exporter: 'otlp',
      url: `${ENDPOINT}/v1/traces`,
      protocol: 'http/protobuf',
      headers: {},
      serviceName: 'app-store-entitlements',
      resourceAttributes: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(testConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT }).tracing?.url).toBe(`${ENDPOINT}/v1/traces`);
  });

  it('uses the traces endpoint as given, before the general one', () => {
    expect(parseTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t.example/custom' })?.url).toBe(
      'https://t.example/custom',
    );
  });

  it('stays off when switched off, even with an endpoint', () => {
    expect(parseTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(parseTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });

  it('writes spans to stdout with the console exporter, without an endpoint', () => {
    expect(parseTracing({ OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({ exporter: 'console', url: null });
  });

  it('reads headers, service name, resource attributes, protocol and sampler', () => {
    const tracing = parseTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D,x-team=core',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-team=traces',
      OTEL_SERVICE_NAME: 'entitlements-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.namespace=billing',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(tracing).toMatchObject({
      headers: { 'x-api-key': 'abc=', 'x-team': 'traces' },
      serviceName: 'entitlements-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod', 'service.namespace': 'billing' },
      protocol: 'http/json',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('stops start-up naming the variable that is malformed', () => {
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }).variable).toBe('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(errorOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' }).variable).toBe('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).variable).toBe('OTEL_EXPORTER_OTLP_PROTOCOL');
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_TRACES_SAMPLER: 'sometimes' }).variable).toBe('OTEL_TRACES_SAMPLER');
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }).variable).toBe(
      'OTEL_TRACES_SAMPLER_ARG',
    );
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }).variable).toBe('OTEL_EXPORTER_OTLP_HEADERS');
    expect(errorOf({ OTEL_TRACES_EXPORTER: 'jaeger' }).variable).toBe('OTEL_TRACES_EXPORTER');
    expect(errorOf({ OTEL_SDK_DISABLED: 'maybe' }).variable).toBe('OTEL_SDK_DISABLED');
  });

  it('does not quote a malformed header value back (it may be an API key)', () => {
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=%E0%A4%A' }).message).not.toContain('%E0');
  });

  it('reads the headers from a file (OTEL_EXPORTER_OTLP_HEADERS_FILE), like every secret', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = `${mkdtempSync(`${tmpdir()}/otel-`)}/headers`;
    writeFileSync(path, 'x-api-key=secret\n');
    expect(readSecretFiles({ OTEL_EXPORTER_OTLP_HEADERS_FILE: path }).OTEL_EXPORTER_OTLP_HEADERS).toBe('x-api-key=secret');
  });
});

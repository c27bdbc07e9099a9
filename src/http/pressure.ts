import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { UnavailableError } from '../errors.js';

// Sheds load with 503 (Apple and well-behaved clients retry) before the process is too
// slow to answer anything or is killed for memory. Liveness and the scrape stay exempt:
// an overloaded process is alive (restarting it would only move the load) and an operator
// must see why it sheds. Readiness is shed like any route, so a balancer steers traffic
// away from an overloaded replica until it recovers.

export interface PressureLimits {
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  maxRssBytes: number;
  /** How often the process is sampled. */
  sampleIntervalMs: number;
  retryAfterSeconds: number;
}

const EXEMPT_ROUTES = ['/healthz', '/metrics'];

function memoryCeiling(): number {
  // A container's memory limit when Node can see one, else the machine's memory.
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const total = totalmem();
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

export function defaultPressureLimits(): PressureLimits {
  return {
    maxEventLoopDelayMs: 1_000,
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    maxRssBytes: Math.floor(memoryCeiling() * 0.9),
    sampleIntervalMs: 1_000,
    retryAfterSeconds: 10,
  };
}

export class UnderPressureError extends UnavailableError {
  // under-pressure instantiates an anonymous subclass (below); the logs name this one.
  override readonly name = 'UnderPressureError';
  constructor(retryAfterSeconds: number) {
    super('UNDER_PRESSURE', 'The service is overloaded; try again shortly', { headers: { 'retry-after': String(retryAfterSeconds) } });
  }
}

/** Registers @fastify/under-pressure; call before any route so the exemptions apply. */
export async function installPressureGuard(app: FastifyInstance, overrides: Partial<PressureLimits> = {}): Promise<void> {
  const limits = { ...defaultPressureLimits(), ...overrides };

  // under-pressure consults a route's own `pressureHandler` first; answering nothing lets the request through.
  app.addHook('onRoute', (route) => {
    if (EXEMPT_ROUTES.includes(route.url ?? route.path)) {
      route.config = { ...route.config, pressureHandler: () => undefined };
    }
  });

  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    maxRssBytes: limits.maxRssBytes,
    sampleInterval: limits.sampleIntervalMs,
    retryAfter: limits.retryAfterSeconds,
    exposeStatusRoute: false,
    customError: class extends UnderPressureError {
      constructor() {
        super(limits.retryAfterSeconds);
      }
    },
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Read by under-pressure before its own handler; set on exempt routes only. */
    pressureHandler?: () => undefined;
  }
}

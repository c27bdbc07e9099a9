import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { lazyChildLogger } from '../../src/http/request-logger.js';

function loggerWithLines(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level, redact: { paths: ['secret'], censor: '[redacted]' }, base: null, timestamp: false }, sink) as unknown as FastifyBaseLogger;
  return { logger, lines };
}

describe('lazyChildLogger (each request logger built when first used)', () => {
  it('builds no child for a request that never logs, and the child with its bindings when it does', () => {
    const { logger, lines } = loggerWithLines();
    const child = vi.spyOn(logger, 'child');
    const log = lazyChildLogger(logger, { requestId: 'r-1' }, {});
    expect(child).not.toHaveBeenCalled();
    log.info({ secret: 's', userId: 'u-1' }, 'hello');
    log.warn('again');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([
      { level: 30, requestId: 'r-1', secret: '[redacted]', userId: 'u-1', msg: 'hello' },
      { level: 40, requestId: 'r-1', msg: 'again' },
    ]);
  });

  it('writes the lines a child made at once writes, children of it included; levels are the parent’s', () => {
    const lazy = loggerWithLines('warn');
    const eager = loggerWithLines('warn');
    for (const [{ logger }, log] of [
      [lazy, lazyChildLogger(lazy.logger, { requestId: 'r-2' }, {})],
      [eager, eager.logger.child({ requestId: 'r-2' })],
    ] as const) {
      expect(log.level).toBe(logger.level);
      log.info('not written at warn');
      log.error({ err: new Error('boom') }, 'failed');
      log.child({ job: 'j-1' }).warn('from a child');
    }
    expect(lazy.lines.length).toBe(2);
    expect(lazy.lines.map(({ err, ...line }) => line)).toEqual(eager.lines.map(({ err, ...line }) => line));
    expect(lazy.lines[1]).toMatchObject({ requestId: 'r-2', job: 'j-1', msg: 'from a child' });
  });

  it('builds the child at once when the route gives it options of its own', () => {
    const { logger } = loggerWithLines();
    const child = vi.spyOn(logger, 'child');
    lazyChildLogger(logger, { requestId: 'r-3' }, { level: 'debug' });
    expect(child).toHaveBeenCalledWith({ requestId: 'r-3' }, { level: 'debug' });
  });
});

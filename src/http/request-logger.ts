import type { FastifyBaseLogger } from 'fastify';

// Fastify gives every request a child logger carrying its id (`requestId`). pino builds a
// child's bindings eagerly, and with redaction configured (logger.ts) that means a JSON
// serialization and a redaction pass per request, although most requests (an entitlement
// read, a probe) never log a line. This factory hands out a stand-in instead: the same
// logger as far as anyone can tell (every log method, `child`, `bindings`), which builds
// the real child, with the same bindings and options, the first time it is used; level and
// the rest come from the parent, as they do for a pino child made without options.

const REAL = Symbol('realChild');
const BINDINGS = Symbol('bindings');

interface Standin {
  [REAL]?: FastifyBaseLogger;
  [BINDINGS]: Record<string, unknown>;
}

const LOG_METHODS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const standinPrototypes = new WeakMap<FastifyBaseLogger, object>();

function standinPrototype(parent: FastifyBaseLogger): object {
  let prototype = standinPrototypes.get(parent);
  if (prototype !== undefined) return prototype;
  prototype = Object.create(parent) as object;
  const real = (standin: Standin): FastifyBaseLogger => {
    standin[REAL] ??= parent.child(standin[BINDINGS]);
    return standin[REAL];
  };
  const methods: Record<string, (this: Standin, ...args: unknown[]) => unknown> = {
    child(...args) {
      return (real(this).child as (...a: unknown[]) => unknown)(...args);
    },
    bindings() {
      return (real(this) as unknown as { bindings(): unknown }).bindings();
    },
    setBindings(...args) {
      return (real(this) as unknown as { setBindings(...a: unknown[]): unknown }).setBindings(...args);
    },
  };
  for (const method of LOG_METHODS) {
    methods[method] = function (this: Standin, ...args: unknown[]) {
      const logger = real(this) as unknown as Record<string, (...a: unknown[]) => unknown>;
      return logger[method]!(...args);
    };
  }
  for (const [name, value] of Object.entries(methods)) Object.defineProperty(prototype, name, { value, writable: true, configurable: true });
  standinPrototypes.set(parent, prototype);
  return prototype;
}

/** Fastify's `childLoggerFactory`: a request's logger, built when first used. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>, options: object): FastifyBaseLogger {
  // Per-route options (logLevel, logSerializers) change the child itself: built now, as usual.
  if (Object.keys(options).length > 0) return logger.child(bindings, options);
  const standin = Object.create(standinPrototype(logger)) as Standin;
  standin[BINDINGS] = bindings;
  return standin as unknown as FastifyBaseLogger;
}

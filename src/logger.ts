import pino, { type Logger } from 'pino';

// Secrets must never reach a log line, whatever object they travel in.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  'apiKeys',
  '*.apiKeys',
  'adminApiKeys',
  '*.adminApiKeys',
  'privateKey',
  '*.privateKey',
  '*.*.privateKey',
  'sharedSecret',
  '*.sharedSecret',
  'signedPayload',
  '*.signedPayload',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'app-store-entitlements' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

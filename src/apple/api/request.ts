import type { Timestamp } from './models.js';
import type { ApiRequest } from './transport.js';

/** A transport call already bound to one environment. */
export type EnvSend = <T>(request: ApiRequest) => Promise<T>;

/** One path segment; identifiers come from callers and notifications, never trusted raw. */
export function segment(value: string): string {
  if (value.length === 0) throw new RangeError('an identifier in the request path is empty');
  return encodeURIComponent(value);
}

export function millis(value: Timestamp): number {
  return value instanceof Date ? value.getTime() : value;
}

import type { Logger } from 'pino';

// The catalog can be incomplete (a product sold before the file was updated). That is
// worth one line per product in the log, not one per request that touches it.

/** A function that logs `message` the first time it sees each product id. */
export function warnOncePerProduct(logger: Pick<Logger, 'warn'>, message: string): (productId: string) => void {
  const warned = new Set<string>();
  return (productId) => {
    if (warned.has(productId)) return;
    // Product ids come from Apple's data, a bounded set; the cap only guards memory.
    if (warned.size >= 10_000) warned.clear();
    warned.add(productId);
    logger.warn({ productId }, message);
  };
}

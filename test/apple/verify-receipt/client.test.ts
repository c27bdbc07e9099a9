import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createVerifyReceiptClient, ENVIRONMENT_HEADER, meaningOfStatus, VerifyReceiptError } from '../../../src/apple/verify-receipt/index.js';
import { receiptInfo, renewalInfo, V1_TEST } from '../../helpers/v1-bodies.js';

interface Recorded {
  environment: string | undefined;
  body: Record<string, unknown>;
}

type Answer = { status?: number; json?: unknown; text?: string; hang?: boolean };

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

/** A loopback verifyReceipt double answering each request from `answer`. */
async function double(answer: (recorded: Recorded, index: number) => Answer) {
  const requests: Recorded[] = [];
  const server = createServer(async (req, res) => {
    const recorded = { environment: req.headers[ENVIRONMENT_HEADER] as string | undefined, body: await readJson(req) };
    requests.push(recorded);
    const a = answer(recorded, requests.length - 1);
    if (a.hang) return;
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
    res.end(a.text ?? JSON.stringify(a.json));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/verifyReceipt`;
  return { url, requests };
}

const okBody = (environment: 'Production' | 'Sandbox') => ({
  status: 0,
  environment,
  latest_receipt: 'bGF0ZXN0',
  receipt: { bundle_id: V1_TEST.bundleId },
  latest_receipt_info: [receiptInfo({ transactionId: '1000000000000002', purchase: V1_TEST.start + 30 * 86_400_000 })],
  pending_renewal_info: [renewalInfo()],
});

async function errorOf(promise: Promise<unknown>): Promise<VerifyReceiptError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VerifyReceiptError) return error;
    throw error;
  }
  throw new Error('expected a VerifyReceiptError');
}

describe('verifyReceipt client', () => {
  it('posts the receipt with the shared secret and exclude-old-transactions to production first', async () => {
    const { url, requests } = await double(() => ({ json: okBody('Production') }));
    const client = createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 's3cret' });
    const result = await client.verify('cmVjZWlwdA==');
    expect(requests).toEqual([{ environment: 'Production', body: { 'receipt-data': 'cmVjZWlwdA==', password: 's3cret', 'exclude-old-transactions': true } }]);
    expect(result.environment).toBe('Production');
    expect(result.latestReceipt).toBe('bGF0ZXN0');
    expect(result.latestReceiptInfo[0]?.transaction_id).toBe('1000000000000002');
    expect(result.pendingRenewalInfo[0]?.auto_renew_status).toBe('1');
    expect(result.body.receipt).toEqual({ bundle_id: V1_TEST.bundleId });
  });

  it('retries in the sandbox when production answers 21007', async () => {
    const { url, requests } = await double((_r, i) => ({ json: i === 0 ? { status: 21007 } : okBody('Sandbox') }));
    const client = createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 's3cret' });
    const result = await client.verify('cmVjZWlwdA==');
    expect(requests.map((r) => r.environment)).toEqual(['Production', 'Sandbox']);
    expect(requests[1]?.body.password).toBe('s3cret');
    expect(result.environment).toBe('Sandbox');
  });

  it('uses separate production and sandbox URLs when no override is set', async () => {
    const production = await double(() => ({ json: { status: 21007 } }));
    const sandbox = await double(() => ({ json: okBody('Sandbox') }));
    const client = createVerifyReceiptClient({ productionUrl: production.url, sandboxUrl: sandbox.url, sharedSecret: 's' });
    await client.verify('cmVjZWlwdA==');
    expect(production.requests).toHaveLength(1);
    expect(sandbox.requests).toHaveLength(1);
  });

  it('goes back to production on 21008 when it started in the sandbox', async () => {
    const { url, requests } = await double((_r, i) => ({ json: i === 0 ? { status: 21008 } : okBody('Production') }));
    const client = createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 's' });
    const result = await client.verify('cmVjZWlwdA==', { startWith: 'Sandbox' });
    expect(requests.map((r) => r.environment)).toEqual(['Sandbox', 'Production']);
    expect(result.environment).toBe('Production');
  });

  it('reports a wrong shared secret as SHARED_SECRET_MISMATCH, not retryable', async () => {
    const { url } = await double(() => ({ json: { status: 21004 } }));
    const error = await errorOf(createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 'x' }).verify('cmVjZWlwdA=='));
    expect(error).toMatchObject({ code: 'SHARED_SECRET_MISMATCH', retryable: false, status: 21004, environment: 'Production' });
  });

  it('reports a temporary outage after the sandbox retry as retryable', async () => {
    const { url } = await double((_r, i) => ({ json: i === 0 ? { status: 21007 } : { status: 21005 } }));
    const error = await errorOf(createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 'x' }).verify('cmVjZWlwdA=='));
    expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, status: 21005, environment: 'Sandbox' });
  });

  it('reports internal 211xx statuses as retryable INTERNAL_ERROR', async () => {
    const { url } = await double(() => ({ json: { status: 21150, 'is-retryable': true } }));
    const error = await errorOf(createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 'x' }).verify('cmVjZWlwdA=='));
    expect(error).toMatchObject({ code: 'INTERNAL_ERROR', retryable: true, status: 21150 });
  });

  it('gives up with TIMEOUT when the server does not answer in time', async () => {
    const { url } = await double(() => ({ hang: true }));
    const client = createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 'x', timeoutMs: 150 });
    expect(await errorOf(client.verify('cmVjZWlwdA=='))).toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  it('reports HTTP 5xx as retryable and 4xx as not', async () => {
    const down = await double(() => ({ status: 503, text: 'down' }));
    expect(await errorOf(createVerifyReceiptClient({ overrideUrl: down.url, sharedSecret: 'x' }).verify('eA=='))).toMatchObject({
      code: 'HTTP_ERROR',
      retryable: true,
    });
    const gone = await double(() => ({ status: 404, text: 'no' }));
    expect(await errorOf(createVerifyReceiptClient({ overrideUrl: gone.url, sharedSecret: 'x' }).verify('eA=='))).toMatchObject({
      code: 'HTTP_ERROR',
      retryable: false,
    });
  });

  it('reports an unreachable server as a retryable NETWORK_ERROR', async () => {
    const { url } = await double(() => ({ json: {} }));
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await errorOf(createVerifyReceiptClient({ overrideUrl: url, sharedSecret: 'x' }).verify('eA=='))).toMatchObject({
      code: 'NETWORK_ERROR',
      retryable: true,
    });
  });

  it('reports a non-JSON answer or one without status as INVALID_RESPONSE', async () => {
    const html = await double(() => ({ text: '<html>' }));
    expect((await errorOf(createVerifyReceiptClient({ overrideUrl: html.url, sharedSecret: 'x' }).verify('eA=='))).code).toBe('INVALID_RESPONSE');
    const noStatus = await double(() => ({ json: { environment: 'Sandbox' } }));
    expect((await errorOf(createVerifyReceiptClient({ overrideUrl: noStatus.url, sharedSecret: 'x' }).verify('eA=='))).code).toBe('INVALID_RESPONSE');
    const badInfo = await double(() => ({ json: { status: 0, latest_receipt_info: [{ transaction_id: 1 }] } }));
    expect((await errorOf(createVerifyReceiptClient({ overrideUrl: badInfo.url, sharedSecret: 'x' }).verify('eA=='))).code).toBe('INVALID_RESPONSE');
  });

  it('uses an injected fetch', async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify(okBody('Production')), { status: 200 });
    };
    await createVerifyReceiptClient({ sharedSecret: 'x', fetch: fakeFetch }).verify('eA==');
    expect(seen).toEqual(['https://buy.itunes.apple.com/verifyReceipt']);
  });
});

describe('meaningOfStatus', () => {
  it.each([
    [21000, 'INVALID_REQUEST', false],
    [21001, 'STATUS_21001', false],
    [21002, 'MALFORMED_RECEIPT_DATA', true],
    [21003, 'RECEIPT_NOT_AUTHENTICATED', false],
    [21004, 'SHARED_SECRET_MISMATCH', false],
    [21005, 'SERVICE_UNAVAILABLE', true],
    [21006, 'SUBSCRIPTION_EXPIRED', false],
    [21007, 'SANDBOX_RECEIPT_IN_PRODUCTION', false],
    [21008, 'PRODUCTION_RECEIPT_IN_SANDBOX', false],
    [21009, 'INTERNAL_DATA_ACCESS_ERROR', true],
    [21010, 'ACCOUNT_NOT_FOUND', false],
    [21100, 'INTERNAL_ERROR', true],
    [21199, 'INTERNAL_ERROR', true],
    [21200, 'UNKNOWN_STATUS', false],
    [1, 'UNKNOWN_STATUS', false],
  ])('maps status %i to %s (retryable: %s)', (status, code, retryable) => {
    expect(meaningOfStatus(status)).toMatchObject({ code, retryable });
  });
});

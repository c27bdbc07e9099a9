// A stand-in for Apple's verifyReceipt endpoints on loopback (both environments at one
// URL, told apart by the client's environment header). Records every request and answers
// what the test scripted per environment.
import Fastify from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { ENVIRONMENT_HEADER } from '../../src/apple/verify-receipt/index.js';
import { V1_TEST } from '../helpers/v1-bodies.js';

export interface VerifyReceiptRequest {
  environment: string;
  receiptData: unknown;
  password: unknown;
}

type Answer = { status?: number; body: unknown };
type Responder = (request: VerifyReceiptRequest) => Answer;

export interface VerifyReceiptDouble {
  url: string;
  requests: VerifyReceiptRequest[];
  /** Sets how an environment answers; unscripted environments answer status 21002. */
  answer(environment: 'Production' | 'Sandbox', responder: Responder): void;
  close(): Promise<void>;
}

export async function createVerifyReceiptDouble(): Promise<VerifyReceiptDouble> {
  const requests: VerifyReceiptRequest[] = [];
  const responders = new Map<string, Responder>();
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.post('/verifyReceipt', async (request, reply) => {
    const body = request.body as Record<string, unknown>;
    const recorded = {
      environment: String(request.headers[ENVIRONMENT_HEADER]),
      receiptData: body['receipt-data'],
      password: body.password,
    };
    requests.push(recorded);
    const responder = responders.get(recorded.environment);
    const answer = responder ? responder(recorded) : { body: { status: 21002 } };
    return reply
      .code(answer.status ?? 200)
      .type('application/json')
      .send(JSON.stringify(answer.body));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('double did not bind a TCP port');
  return {
    url: `http://127.0.0.1:${address.port}/verifyReceipt`,
    requests,
    answer: (environment, responder) => void responders.set(environment, responder),
    close: () => app.close(),
  };
}

/** The double for the tests of the calling scope, closed after them. Read `double` in tests or later hooks. */
export function useVerifyReceiptDouble(): { readonly double: VerifyReceiptDouble } {
  let double: VerifyReceiptDouble | undefined;
  beforeAll(async () => {
    double = await createVerifyReceiptDouble();
  });
  afterAll(async () => {
    await double?.close();
  });
  return {
    get double() {
      if (double === undefined) throw new Error('the verifyReceipt double is read before its beforeAll ran');
      return double;
    },
  };
}

/**
 * Answers as Apple does for Sandbox receipts: Production redirects with 21007, Sandbox
 * returns the unified receipt `receipts` holds for the receipt data (21002 for others).
 */
export function answerSandboxReceipts(double: VerifyReceiptDouble, receipts: ReadonlyMap<string, Record<string, unknown>>): void {
  double.answer('Production', () => ({ body: { status: 21007 } }));
  double.answer('Sandbox', (request) => {
    const unified = receipts.get(String(request.receiptData));
    if (unified === undefined) return { body: { status: 21002 } };
    return {
      body: {
        status: 0,
        environment: 'Sandbox',
        receipt: { bundle_id: V1_TEST.bundleId, receipt_type: 'ProductionSandbox', in_app: [] },
        latest_receipt: unified.latest_receipt,
        latest_receipt_info: unified.latest_receipt_info,
        pending_renewal_info: unified.pending_renewal_info,
      },
    };
  });
}

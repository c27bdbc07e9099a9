import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';

// ECDSA checks on a worker thread of their own, so that the event loop, which parses
// requests, builds SQL and speaks to the database for every notification, is not also
// the thread that verifies three signatures per notification. Checks asked for in the
// same turn of the event loop travel as one message, and a leaf key crosses once (by
// id, as SPKI DER). libuv's thread pool does the same work but takes a wake-up per
// check, which on the virtual machine this was measured on cost the event loop about as
// much as the check itself.

export interface SignatureWorker {
  /** ES256 (P-1363 signature encoding) over `data` with `key`. */
  verify(key: KeyObject, data: Buffer, signature: Buffer): Promise<boolean>;
  close(): Promise<void>;
}

interface Pending {
  resolve(ok: boolean): void;
  reject(error: Error): void;
}

type Check = [id: number, keyId: number, data: Buffer, signature: Buffer];

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', ({ newKeys, checks }) => {
  for (const [id, der] of newKeys) keys.set(id, { key: createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }), dsaEncoding: 'ieee-p1363' });
  const results = [];
  for (const [id, keyId, data, signature] of checks) {
    try {
      results.push([id, verify('sha256', data, keys.get(keyId), signature), null]);
    } catch (error) {
      results.push([id, false, String(error && error.message || error)]);
    }
  }
  parentPort.postMessage(results);
});
`;

export function createSignatureWorker(): SignatureWorker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  const keyIds = new WeakMap<KeyObject, number>();
  const pending = new Map<number, Pending>();
  let nextKeyId = 1;
  let nextCheckId = 1;
  let newKeys: Array<[number, Uint8Array]> = [];
  let checks: Check[] = [];
  let scheduled = false;
  let failure: Error | null = null;

  const failAll = (error: Error) => {
    failure = error;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`signature worker exited (code ${code})`)));
  worker.on('message', (results: Array<[number, boolean, string | null]>) => {
    for (const [id, ok, error] of results) {
      const waiting = pending.get(id);
      pending.delete(id);
      if (error === null) waiting?.resolve(ok);
      else waiting?.reject(new Error(error));
    }
    if (pending.size === 0) worker.unref();
  });
  // Idle, the worker does not keep the process alive (unref after the listeners: adding
  // a 'message' listener refs the port again).
  worker.unref();

  const flush = () => {
    scheduled = false;
    worker.postMessage({ newKeys, checks });
    newKeys = [];
    checks = [];
  };

  return {
    verify(key, data, signature) {
      // A worker that died takes no more work: the check runs inline instead.
      if (failure !== null) return Promise.resolve(cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature));
      let keyId = keyIds.get(key);
      if (keyId === undefined) {
        keyId = nextKeyId++;
        keyIds.set(key, keyId);
        newKeys.push([keyId, key.export({ format: 'der', type: 'spki' })]);
      }
      const id = nextCheckId++;
      checks.push([id, keyId, data, signature]);
      if (pending.size === 0) worker.ref();
      const answer = new Promise<boolean>((resolve, reject) => pending.set(id, { resolve, reject }));
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return answer;
    },
    async close() {
      await worker.terminate();
    },
  };
}

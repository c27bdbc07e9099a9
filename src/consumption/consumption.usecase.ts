import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import type { ConsumptionFacts, ConsumptionStatus } from './consumption.model.js';
import { type ConsumptionRequestRow, listRequests, type StoredFacts, storeFacts } from './consumption.repository.js';

export interface ConsumptionUsecaseDeps {
  db: Database;
  clock: Clock;
  /** Asks the sender for an attempt after the facts are committed (never awaited). */
  wake: () => void;
}

export interface FactsAnswer {
  transactionId: string;
  facts: StoredFacts;
  /** Apple's requests for this transaction so far, newest first. */
  requests: ConsumptionRequestRow[];
}

export interface ConsumptionUsecase {
  /** Stores the facts (replacing earlier ones); a waiting request of the transaction is answered right after. */
  putFacts(transactionId: string, facts: ConsumptionFacts, by: string | null): Promise<FactsAnswer>;
  list(filter: { status?: ConsumptionStatus; transactionId?: string; limit?: number }): Promise<ConsumptionRequestRow[]>;
}

const REQUESTS_PER_TRANSACTION = 50;

export function createConsumptionUsecase(deps: ConsumptionUsecaseDeps): ConsumptionUsecase {
  return {
    async putFacts(transactionId, facts, by) {
      const stored = await storeFacts(deps.db, transactionId, facts, by, deps.clock());
      deps.wake();
      const requests = await listRequests(deps.db, { transactionId, limit: REQUESTS_PER_TRANSACTION });
      return { transactionId, facts: stored, requests };
    },
    list: (filter) => listRequests(deps.db, { ...filter, limit: filter.limit ?? 100 }),
  };
}

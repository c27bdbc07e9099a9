import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { serviceState, users } from '../db/schema.js';
import { conflict } from '../errors.js';
import { newNamespace, tokenForUser } from './app-account-token.model.js';

const NAMESPACE_KEY = 'app_account_token_namespace';

/**
 * The installation's token namespace, created on first use. Concurrent first calls
 * (several replicas starting together) all insert-if-absent and then read the one row
 * that won, so every process derives the same tokens.
 */
export async function loadTokenNamespace(executor: Executor): Promise<string> {
  await executor.insert(serviceState).values({ key: NAMESPACE_KEY, value: newNamespace() }).onConflictDoNothing();
  const [row] = await executor.select({ value: serviceState.value }).from(serviceState).where(eq(serviceState.key, NAMESPACE_KEY));
  if (typeof row?.value !== 'string') throw new Error(`service_state ${NAMESPACE_KEY} is missing or not a string`);
  return row.value;
}

export interface UsersRepository {
  /** The installation's namespace, read once and then kept (it never changes). */
  namespace(): Promise<string>;
  /**
   * Records the user with its token (idempotent) and returns the token. Throws 409
   * TOKEN_CONFLICT when another user already holds that token, which only happens when
   * a UUID user id equals a token derived for a different user.
   *
   * Without `namespace` (and before it is cached) the namespace is read through
   * `executor` itself: on single-connection PGlite a read through the pool would wait for
   * the very transaction it runs in. What is read through a transaction is not cached,
   * because that transaction may still roll the namespace's creation back.
   */
  ensureUser(executor: Executor, canonicalId: string, namespace?: string): Promise<string>;
}

export function createUsersRepository({ db }: { db: Executor }): UsersRepository {
  let known: string | null = null;
  let loading: Promise<string> | null = null;
  const namespace = async () => {
    if (known !== null) return known;
    loading ??= loadTokenNamespace(db).finally(() => {
      loading = null;
    });
    known = await loading;
    return known;
  };

  return {
    namespace,
    async ensureUser(executor, canonicalId, given) {
      const ns = given ?? known ?? (executor === db ? await namespace() : await loadTokenNamespace(executor));
      const token = tokenForUser(canonicalId, ns);
      await executor.insert(users).values({ userId: canonicalId, appAccountToken: token }).onConflictDoNothing();
      const [row] = await executor.select({ token: users.appAccountToken }).from(users).where(eq(users.userId, canonicalId));
      if (row === undefined) {
        throw conflict('TOKEN_CONFLICT', `The app account token of user ${canonicalId} is held by another user`);
      }
      return row.token;
    },
  };
}

// The entitlement benches' seed is written behind the service's write side, so no user has
// a recorded answer yet when seeding ends. A real installation records each user's answer
// once (the events' baseline, when it upgrades) and from then on re-evaluates only the
// users whose period ends: the benches ask for the baseline again and wait for it, with
// the answer check it starts, so that the measured rounds see the steady state instead of
// 100,000 users' answers being written (and the cache invalidated for each) under them.
import pg from 'pg';

/**
 * Waits until the answers' baseline over the seeded users is written, then vacuums and
 * checkpoints its writes out of the measured rounds' way. `restart`: the seed wrote after
 * the service took its baseline, so ask for the baseline again first (a kept database
 * whose baseline is done needs none). Returns how many users have an answer.
 */
export async function settleAnswers(url: string, options: { restart: boolean }): Promise<{ users: number; seconds: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = Date.now();
    if (options.restart) await client.query(`delete from service_state where key = 'events.answers_baseline'`);
    for (;;) {
      const { rows } = await client.query<{ baseline: boolean; due: string }>(
        `select exists (select 1 from service_state where key = 'events.answers_baseline') as baseline,
                (select count(*) from user_answers where next_check_at <= now()) as due`,
      );
      if (rows[0]!.baseline && rows[0]!.due === '0') break;
      if (Date.now() - started > 900_000) throw new Error('the answers baseline did not finish within 15 minutes');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const { rows } = await client.query<{ count: string }>('select count(*) from user_answers');
    const seconds = (Date.now() - started) / 1000;
    await client.query('vacuum analyze user_answers');
    await client.query('checkpoint');
    return { users: Number(rows[0]!.count), seconds };
  } finally {
    await client.end();
  }
}

-- hand-written (drizzle-kit has no functions): the statement that records delivery results
-- (deliveries.repository.ts, recordAttemptResults) as a function, for two reasons.
--
-- Order: a delivery's end releases the next held-back row of its user, and the dispatch holds
-- a new event back when its user has a pending row. Each used to read the other's work in a
-- snapshot taken before the other committed: an end and a dispatch at the same moment left
-- the new row held back until the lane's sweep (up to 5 s). Now the dispatch locks the user's
-- pending rows (FOR SHARE, in event order) and this function ends its rows first (their
-- locks, in event order: the caller sorts them) and releases after, each release a statement
-- of its own with a fresh snapshot (a VOLATILE function's statements each take one). So
-- either the dispatch waits for the end to commit and sees the row ended, or the end waits for
-- the dispatch to commit and its release sees the row the dispatch held back. Both take these
-- locks in event order, so neither waits for the other in a cycle.
--
-- Cost: each statement here is a lookup by key, planned once per connection (PL/pgSQL keeps
-- its plans), where the one statement it replaces was planned at every call (0.4–0.8 ms a
-- call, longer than it ran: ingest benchmark with a receiver, pg_stat_statements).
--
-- Arguments: the attempts' event seq, url, attempts and claim time (the fence: a result whose
-- row was claimed again since is dropped), the status, last status, last error, next attempt
-- and delivered time to record; whether to claim the rows released (and the claim's time and
-- lease). One row per result recorded (released false), then one per row released and
-- claimed (released true, with its event).
CREATE OR REPLACE FUNCTION record_delivery_results(
  seqs bigint[], urls text[], claimed_attempts integer[], claimed_ats timestamptz[],
  statuses text[], last_statuses integer[], last_errors text[], next_ats timestamptz[], delivered_ats timestamptz[],
  claim_released boolean, claimed_now timestamptz, lease_until timestamptz)
RETURNS TABLE (
  r_seq bigint, r_url text, r_released boolean, r_attempts integer, r_first_attempt_at timestamptz,
  r_event_id text, r_body text, r_recorded_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  i integer;
  ended_user text;
  ended_status text;
  ended_urls text[] := '{}';
  ended_users text[] := '{}';
BEGIN
  -- Each row by its key. The plan is made once (at the sixth call, on the statistics of that
  -- moment: an empty table, at a fresh start) and kept: with `status = 'pending'` written
  -- plainly, the user-order index (not delivered) served too, and the plan looked the row up
  -- by the URL alone there, through every undelivered entry of the URL, dead ones included
  -- (1.6 ms a row at 30,000 rows). Written as a CASE, it names no index, and the key is taken.
  FOR i IN 1 .. coalesce(array_length(seqs, 1), 0) LOOP
    UPDATE event_deliveries d
       SET status = statuses[i], last_status = last_statuses[i], last_error = last_errors[i],
           next_attempt_at = next_ats[i], delivered_at = coalesce(delivered_ats[i], d.delivered_at)
     WHERE d.event_seq = seqs[i] AND d.url = urls[i] AND d.attempts = claimed_attempts[i]
       AND d.last_attempt_at = claimed_ats[i] AND CASE WHEN d.status = 'pending' THEN true ELSE false END
    RETURNING d.user_id, d.status INTO ended_user, ended_status;
    CONTINUE WHEN NOT FOUND;
    r_seq := seqs[i];
    r_url := urls[i];
    r_released := false;
    RETURN NEXT;
    IF ended_status <> 'pending' AND ended_user IS NOT NULL THEN
      ended_urls := ended_urls || urls[i];
      ended_users := ended_users || ended_user;
    END IF;
  END LOOP;
  r_released := true;
  -- The user's oldest held-back row, if it is the user's oldest pending row (none before it
  -- is claimed, retrying, redelivered, or released by an earlier end of this call). Each
  -- lookup names the URL and user: the planner has no index to take by the URL alone.
  FOR i IN 1 .. coalesce(array_length(ended_users, 1), 0) LOOP
    UPDATE event_deliveries n
       SET held_back = false,
           attempts = CASE WHEN claim_released THEN n.attempts + 1 ELSE n.attempts END,
           next_attempt_at = CASE WHEN claim_released THEN lease_until ELSE n.next_attempt_at END,
           last_attempt_at = CASE WHEN claim_released THEN claimed_now ELSE n.last_attempt_at END,
           first_attempt_at = CASE WHEN claim_released THEN coalesce(n.first_attempt_at, claimed_now) ELSE n.first_attempt_at END
     WHERE n.url = ended_urls[i] AND n.user_id = ended_users[i] AND n.status = 'pending' AND n.held_back
       AND n.event_seq = (
         SELECT m.event_seq FROM event_deliveries m
          WHERE m.url = ended_urls[i] AND m.user_id = ended_users[i] AND m.status = 'pending' AND m.held_back
          ORDER BY m.event_seq LIMIT 1)
       AND NOT EXISTS (
         SELECT 1 FROM event_deliveries p
          WHERE p.url = ended_urls[i] AND p.user_id = ended_users[i] AND p.status = 'pending' AND p.event_seq < n.event_seq)
    RETURNING n.event_seq, n.url, n.attempts, n.first_attempt_at INTO r_seq, r_url, r_attempts, r_first_attempt_at;
    CONTINUE WHEN NOT FOUND OR NOT claim_released;
    SELECT e.id, e.body, e.recorded_at INTO r_event_id, r_body, r_recorded_at FROM events e WHERE e.seq = r_seq;
    RETURN NEXT;
  END LOOP;
END
$$;

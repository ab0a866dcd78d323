-- PostgreSQL dialect of schema/queries/sqlite/outbox.sql: the outbox as the
-- dispatcher uses it (OutboxStore, sc/core/outbox.h).
--
-- A leased row (state 'sending') is either claimed, not yet handed over to
-- its provider, or handed over. This dialect too keeps that in the sign of
-- lease_until: negative (-until) while claimed, positive once handed over.
-- Only the statements of this file read or write that sign.
--
-- lease_owner is the instance (instances.id) that holds a leased row. Every
-- statement that changes a leased row on its holder's behalf is fenced on
-- it: once another instance has taken over a lapsed lease (expire_*), the
-- old holder's mark changes nothing, and the dispatcher knows the row is no
-- longer its own.
--
-- Differs from SQLite:
-- - $N parameters, cast where the context alone does not fix the type
--   (`-?1` and `CASE WHEN ?6` have none: $1::bigint, $6::int <> 0);
-- - outbox.lease_due picks its rows with FOR UPDATE SKIP LOCKED: several
--   instances claim from one table at once (READ COMMITTED), and a row
--   another claimer has locked is skipped, never claimed twice. The ids
--   are gathered as an array (= ANY (ARRAY(...)), evaluated once) so the
--   UPDATE reaches them by primary key: with IN (subquery) the planner
--   hash-joins against a scan of the whole outbox;
-- - json_each(?) -> jsonb_array_elements_text($::jsonb), ids cast to bigint.
-- The expire_* and release_* statements are set-based UPDATEs: a row
-- another transaction changed meanwhile is judged again on its new version
-- (READ COMMITTED re-checks the WHERE), so none is taken twice. expire_*
-- act on every instance's lapsed leases alike; release_own_* only on those
-- of the instance's own name.

-- name: outbox.enqueue
INSERT INTO outbox (kind, channel_id, broadcast_id, purpose, payload, lane, next_attempt_at,
                    created_at)
VALUES ($1::text, $2::bigint, $3::bigint, $4::text, $5::text, $6::bigint, $8::bigint,
        $7::bigint)
RETURNING id;

-- Leases up to $5 due rows of one lane and kind (an index range of
-- outbox_due: lane, kind, due, id), bulk ones only of sending broadcasts,
-- and returns them with the recipient's consent as it is now. $6: 1 leases
-- them as claimed, 0 as handed over; $7: the instance that leases them.
-- Rows locked by another claimer are skipped (SKIP LOCKED): concurrent
-- claims get disjoint rows.
-- name: outbox.lease_due
UPDATE outbox SET state = 'sending', attempts = attempts + 1,
                  lease_until = CASE WHEN $6::int <> 0 THEN -$1::bigint ELSE $1::bigint END,
                  wait_reason = NULL, lease_owner = $7::text
 WHERE id = ANY (ARRAY(SELECT id FROM outbox
                        WHERE state = 'queued' AND lane = $2::bigint AND kind = $3::text
                          AND next_attempt_at <= $4::bigint
                          AND (lane = 0 OR broadcast_id IN
                               (SELECT id FROM broadcasts WHERE status = 'sending'))
                        ORDER BY next_attempt_at, id LIMIT $5::bigint
                          FOR UPDATE OF outbox SKIP LOCKED))
RETURNING id, purpose, broadcast_id, attempts, payload,
          (SELECT c.state FROM channels c WHERE c.id = outbox.channel_id), channel_id,
          next_attempt_at;

-- A skipped message was never attempted.
-- name: outbox.skip
UPDATE outbox SET state = 'skipped', attempts = attempts - 1, lease_until = 0,
                  finished_at = $1::bigint, last_error = 'recipient no longer consents',
                  lease_owner = NULL
 WHERE id = $2::bigint AND state = 'sending' AND lease_owner = $3::text;

-- name: outbox.mark_sent
UPDATE outbox SET state = 'sent', finished_at = $1::bigint, provider = $2::text,
                  provider_message_id = $3::text, last_code = $4::text, last_error = NULL,
                  lease_owner = NULL
 WHERE id = $5::bigint AND state = 'sending' AND lease_owner = $6::text;

-- Many at once, as mark_sent each: $2 a JSON array of
-- [id, provider, provider_message_id, last_code].
-- name: outbox.mark_sent_many
UPDATE outbox SET state = 'sent', finished_at = $1::bigint, provider = m.provider,
                  provider_message_id = m.message_id, last_code = m.code, last_error = NULL,
                  lease_owner = NULL
  FROM (SELECT (e ->> 0)::bigint AS id, e ->> 1 AS provider, e ->> 2 AS message_id,
               e ->> 3 AS code
          FROM jsonb_array_elements($2::jsonb) AS e) AS m
 WHERE outbox.id = m.id AND outbox.state = 'sending' AND outbox.lease_owner = $3::text
RETURNING outbox.id;

-- name: outbox.mark_failed
UPDATE outbox SET state = 'failed', finished_at = $1::bigint, provider = $2::text,
                  last_code = $3::text, last_error = $4::text, lease_owner = NULL
 WHERE id = $5::bigint AND state = 'sending' AND lease_owner = $6::text;

-- name: outbox.mark_unknown
UPDATE outbox SET state = 'unknown', finished_at = $1::bigint, provider = $2::text,
                  last_code = $3::text, last_error = $4::text, lease_owner = NULL
 WHERE id = $5::bigint AND state = 'sending' AND lease_owner = $6::text;

-- name: outbox.mark_retry
UPDATE outbox SET state = 'queued', next_attempt_at = $1::bigint, lease_until = 0,
                  last_code = $2::text, last_error = $3::text, lease_owner = NULL
 WHERE id = $4::bigint AND state = 'sending' AND lease_owner = $5::text;

-- Only rows still claimed, and only of a broadcast still sending (as of this
-- statement: a pause or cancel another instance commits after it started
-- takes effect from the next one). $2: the ids as a JSON array; $3: the
-- instance that claimed them.
-- name: outbox.mark_handed_over
UPDATE outbox SET lease_until = $1::bigint
 WHERE state = 'sending' AND lease_until < 0 AND lease_owner = $3::text
   AND id = ANY (ARRAY(SELECT e::bigint FROM jsonb_array_elements_text($2::jsonb) AS e))
   AND broadcast_id IN (SELECT id FROM broadcasts WHERE status = 'sending')
RETURNING id;

-- Those of a broadcast paused or cancelled since the claim go back to the
-- queue unsent, their attempt given back (as requeue does).
-- name: outbox.hand_back_not_sending
UPDATE outbox SET state = 'queued', attempts = attempts - 1, lease_until = 0, lease_owner = NULL
 WHERE state = 'sending' AND lease_until < 0 AND lease_owner = $2::text
   AND id = ANY (ARRAY(SELECT e::bigint FROM jsonb_array_elements_text($1::jsonb) AS e))
   AND broadcast_id NOT IN (SELECT id FROM broadcasts WHERE status = 'sending');

-- Never tried with a provider: queued again and the attempt the claim
-- counted given back; with a reason (quiet hours) reads show it waiting,
-- without one (NULL) it is plainly queued.
-- name: outbox.requeue
UPDATE outbox SET state = 'queued', attempts = attempts - 1, next_attempt_at = $1::bigint,
                  lease_until = 0, wait_reason = $2::text, lease_owner = NULL
 WHERE id = $3::bigint AND state = 'sending' AND lease_owner = $4::text;

-- name: outbox.pause_broadcast
UPDATE broadcasts SET status = 'paused', pause_reason = $1::text, updated_at = $2::bigint
 WHERE id = $3::bigint AND status = 'sending';

-- Leases that ran out ($1: now). A broadcast message handed over may have
-- reached the provider: unknown. One claimed, never handed over, never
-- left: queued again, its attempt given back. A transactional message goes
-- back to the queue. Whichever instance holds them: a lease is taken over
-- only once it has run out (on the database's clock: see
-- docs/architecture.md).
-- name: outbox.expire_handed_over
UPDATE outbox SET state = 'unknown', lease_until = 0, finished_at = $1::bigint, lease_owner = NULL,
                  last_error = 'in flight when its lease ran out (the process stopped or the send hung)'
 WHERE state = 'sending' AND lease_until >= 0 AND lease_until < $1::bigint AND lane = 1;

-- name: outbox.expire_claimed
UPDATE outbox SET state = 'queued', attempts = attempts - 1, lease_until = 0, lease_owner = NULL
 WHERE state = 'sending' AND lease_until < 0 AND -lease_until < $1::bigint AND lane = 1;

-- name: outbox.expire_transactional
UPDATE outbox SET state = 'queued', lease_until = 0, lease_owner = NULL
 WHERE state = 'sending' AND lease_until < $1::bigint AND lane = 0;

-- At start: an instance's record ($1 its random id, $2 its name, $3 now).
-- name: outbox.register_instance
INSERT INTO instances (id, name, started_at, heartbeat_at)
VALUES ($1::text, $2::text, $3::bigint, $3::bigint)
ON CONFLICT (id) DO NOTHING;

-- At most once a minute (it runs with every claim; forget_instances waits
-- a week): a claim that finds nothing writes nothing.
-- name: outbox.heartbeat
UPDATE instances SET heartbeat_at = $2::bigint
 WHERE id = $1::text AND heartbeat_at <= $2::bigint - 60;

-- The same as expire_*, whatever the lease, for the rows this instance's
-- name holds ($2): the leases of its earlier runs (a process that is gone),
-- and those leased before instances had ids (NULL). Another name's leases
-- are left alone, however old: they are taken over when they run out.
-- name: outbox.release_own_handed_over
UPDATE outbox SET state = 'unknown', lease_until = 0, finished_at = $1::bigint, lease_owner = NULL,
                  last_error = 'in flight when the process stopped'
 WHERE state = 'sending' AND lane = 1 AND lease_until >= 0
   AND (lease_owner IS NULL OR lease_owner IN (SELECT id FROM instances WHERE name = $2::text));

-- name: outbox.release_own_claimed
UPDATE outbox SET state = 'queued', attempts = attempts - 1, lease_until = 0, lease_owner = NULL
 WHERE state = 'sending' AND lane = 1 AND lease_until < 0
   AND (lease_owner IS NULL OR lease_owner IN (SELECT id FROM instances WHERE name = $1::text));

-- name: outbox.release_own_transactional
UPDATE outbox SET state = 'queued', lease_until = 0, lease_owner = NULL
 WHERE state = 'sending' AND lane = 0
   AND (lease_owner IS NULL OR lease_owner IN (SELECT id FROM instances WHERE name = $1::text));

-- The earlier runs of this name ($2) once their leases are handed back
-- ($1: this run's id), and any instance silent since $3 (its leases ran out
-- long ago).
-- name: outbox.forget_instances
DELETE FROM instances WHERE (name = $2::text AND id <> $1::text) OR heartbeat_at < $3::bigint;

-- The broadcast runner leases of this instance's name ($1::text): its earlier
-- runs are gone, so their leases have run out (any instance takes them
-- now, under the next term).
-- name: outbox.release_own_broadcasts
UPDATE broadcast_leases SET lease_until = 0
 WHERE owner IN (SELECT id FROM instances WHERE name = $1::text);

-- Every inbound text the webhook processed, by Twilio's MessageSid, kept for
-- good: a repeat of a MessageSid (Twilio retrying a slow answer, or a
-- captured request replayed later) finds it here and changes nothing. The
-- signature covers every parameter, so a replay cannot carry a new sid.
-- Texts that are not a recognised keyword (keyword 'none') are listed for
-- an operator's review (GET /api/v1/admin/inbound), who may mark one as an
-- opt-out (reviewed_* say who, what and when).
CREATE TABLE inbound_texts (
  id            INTEGER PRIMARY KEY,
  message_sid   TEXT    NOT NULL UNIQUE,
  from_number   TEXT    NOT NULL,
  body          TEXT    NOT NULL DEFAULT '',
  keyword       TEXT    NOT NULL CHECK (keyword IN ('none', 'opt_in', 'opt_out', 'help')),
  opt_out_type  TEXT    NOT NULL DEFAULT '',  -- Twilio's OptOutType: it answered the text itself
  outcome       TEXT    NOT NULL DEFAULT '',  -- confirmed, unsubscribed, answered, ignored, recorded
  received_at   INTEGER NOT NULL,
  reviewed_at   INTEGER,
  reviewed_by   TEXT,
  review_action TEXT
);
-- The review list: newest first, only texts that were not a keyword.
CREATE INDEX inbound_texts_review ON inbound_texts (id) WHERE keyword = 'none';

-- Texts processed before this table existed: the consent log holds the
-- MessageSid of each one that changed a state ("sms SM…"), so a replay of
-- those is refused too.
INSERT OR IGNORE INTO inbound_texts (message_sid, from_number, keyword, outcome, received_at)
  SELECT substr(detail, 5), address,
         CASE action WHEN 'confirm' THEN 'opt_in' ELSE 'opt_out' END, 'recorded', at
    FROM consent_log
   WHERE channel = 'sms' AND source = 'keyword' AND detail LIKE 'sms %'
         AND action IN ('confirm', 'withdraw');

-- The consent log keeps what a person texted: the text, its MessageSid, and
-- Twilio's OptOutType when Twilio's Advanced Opt-Out answered it.
ALTER TABLE consent_log ADD COLUMN message_sid TEXT;
ALTER TABLE consent_log ADD COLUMN text_received TEXT;
ALTER TABLE consent_log ADD COLUMN opt_out_type TEXT;
-- A STOP (or HELP) from a number we do not know is logged with subscriber
-- and channel 0 and the number as address; the admin lookup by phone finds
-- those rows by address.
CREATE INDEX consent_log_unknown_number ON consent_log (address) WHERE subscriber_id = 0;

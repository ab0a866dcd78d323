-- The confirmation texts that sign-ups queued, for the SMS pumping limits
-- (include/sc/core/sms_limits.h): one row per text with the keys it counts
-- under, written in the transaction that queues the text and counted in
-- the next sign-up's transaction, so a restart resets nothing. Rows older
-- than the longest window (24 h) are deleted as new ones are written.
CREATE TABLE sms_confirm_sends (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  client TEXT NOT NULL,  -- the client's IP, or its /64 for IPv6; '' when not known
  number TEXT NOT NULL,  -- E.164
  prefix TEXT NOT NULL   -- the number without its last four digits
);
CREATE INDEX sms_confirm_sends_client ON sms_confirm_sends (client, at);
CREATE INDEX sms_confirm_sends_number ON sms_confirm_sends (number, at);
CREATE INDEX sms_confirm_sends_prefix ON sms_confirm_sends (prefix, at);
CREATE INDEX sms_confirm_sends_at ON sms_confirm_sends (at);

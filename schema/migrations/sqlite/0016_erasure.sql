-- Erasure (DELETE /api/v1/admin/subscribers/{id} and the self-service erase)
-- and the suppression list it fills.
--
-- The suppression list: keyed hashes of erased addresses and numbers, so
-- that an import or an operator can never add them again. The key is the
-- hex HMAC-SHA256, under the service secret, of the kind and the normalised
-- address (lower-cased email; E.164 number): a plain hash of a number can be
-- reversed by trying every number of a country.
CREATE TABLE suppressions (
  kind       TEXT    NOT NULL CHECK (kind IN ('email', 'sms')),
  key        TEXT    NOT NULL,
  reason     TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- The consent log stays append-only with one change allowed: an erasure
-- replaces the address with its pseudonym ('erased:' and the suppression
-- key) and empties what names the person (IP, User-Agent, the text they
-- sent, a detail that holds the address). When, what, how and under which
-- wording stay as they were: that is the proof.
DROP TRIGGER consent_log_no_update;
CREATE TRIGGER consent_log_erase_only BEFORE UPDATE ON consent_log
WHEN NEW.address NOT LIKE 'erased:%' OR NEW.ip <> '' OR NEW.user_agent <> ''
  OR NEW.text_received IS NOT NULL OR (NEW.detail IS NOT OLD.detail AND NEW.detail <> '')
  OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.subscriber_id IS NOT OLD.subscriber_id
  OR NEW.channel_id IS NOT OLD.channel_id OR NEW.channel IS NOT OLD.channel
  OR NEW.action IS NOT OLD.action OR NEW.source IS NOT OLD.source
  OR NEW.consent_text_sha256 IS NOT OLD.consent_text_sha256
  OR NEW.consent_text_version IS NOT OLD.consent_text_version
  OR NEW.message_sid IS NOT OLD.message_sid OR NEW.opt_out_type IS NOT OLD.opt_out_type
BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END;

-- The audit log likewise: an erasure replaces a target that is the address
-- (a lookup's) with its pseudonym and empties a detail that holds it.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_erase_only BEFORE UPDATE ON audit_log
WHEN (NEW.target IS NOT OLD.target AND NEW.target NOT LIKE 'erased:%')
  OR (NEW.detail IS NOT OLD.detail AND NEW.detail <> '')
  OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.key_name IS NOT OLD.key_name
  OR NEW.action IS NOT OLD.action OR NEW.ip IS NOT OLD.ip
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The proof an erasure left, found by the pseudonym (directory.erased_consent).
CREATE INDEX consent_log_erased ON consent_log (address) WHERE address LIKE 'erased:%';

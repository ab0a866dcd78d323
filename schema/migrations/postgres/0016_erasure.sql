-- PostgreSQL dialect of schema/migrations/sqlite/0016_erasure.sql: the
-- suppression list, and erasure as the one change the consent log and the
-- audit log allow. SQLite's `IS NOT` is IS DISTINCT FROM; refuse_change()
-- is 0001's.
CREATE TABLE suppressions (
  kind       text   NOT NULL CHECK (kind IN ('email', 'sms')),
  key        text   NOT NULL,
  reason     text   NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (kind, key)
);

DROP TRIGGER consent_log_no_update ON consent_log;
CREATE TRIGGER consent_log_erase_only BEFORE UPDATE ON consent_log
  FOR EACH ROW
  WHEN (NEW.address NOT LIKE 'erased:%' OR NEW.ip <> '' OR NEW.user_agent <> ''
        OR NEW.text_received IS NOT NULL
        OR (NEW.detail IS DISTINCT FROM OLD.detail AND NEW.detail <> '')
        OR NEW.id IS DISTINCT FROM OLD.id OR NEW.at IS DISTINCT FROM OLD.at
        OR NEW.subscriber_id IS DISTINCT FROM OLD.subscriber_id
        OR NEW.channel_id IS DISTINCT FROM OLD.channel_id
        OR NEW.channel IS DISTINCT FROM OLD.channel OR NEW.action IS DISTINCT FROM OLD.action
        OR NEW.source IS DISTINCT FROM OLD.source
        OR NEW.consent_text_sha256 IS DISTINCT FROM OLD.consent_text_sha256
        OR NEW.consent_text_version IS DISTINCT FROM OLD.consent_text_version
        OR NEW.message_sid IS DISTINCT FROM OLD.message_sid
        OR NEW.opt_out_type IS DISTINCT FROM OLD.opt_out_type)
  EXECUTE FUNCTION refuse_change('consent_log is append-only');

DROP TRIGGER audit_log_no_update ON audit_log;
CREATE TRIGGER audit_log_erase_only BEFORE UPDATE ON audit_log
  FOR EACH ROW
  WHEN ((NEW.target IS DISTINCT FROM OLD.target AND NEW.target NOT LIKE 'erased:%')
        OR (NEW.detail IS DISTINCT FROM OLD.detail AND NEW.detail <> '')
        OR NEW.id IS DISTINCT FROM OLD.id OR NEW.at IS DISTINCT FROM OLD.at
        OR NEW.key_name IS DISTINCT FROM OLD.key_name OR NEW.action IS DISTINCT FROM OLD.action
        OR NEW.ip IS DISTINCT FROM OLD.ip)
  EXECUTE FUNCTION refuse_change('audit_log is append-only');

-- The proof an erasure left, found by the pseudonym (directory.erased_consent).
CREATE INDEX consent_log_erased ON consent_log (address) WHERE address LIKE 'erased:%';

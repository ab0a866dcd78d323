-- The consent log (append-only: triggers of 0001 refuse changes) and the
-- consent texts it cites.

-- name: consent.append
INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source, detail,
                         ip, user_agent, consent_text_sha256, consent_text_version, message_sid,
                         text_received, opt_out_type)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15);

-- name: consent.register_text
INSERT OR IGNORE INTO consent_texts (sha256, channel, version, text, created_at)
VALUES (?1, ?2, ?3, ?4, ?5);

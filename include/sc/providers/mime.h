// RFC 5322 / MIME rendering of an OutboundEmail, shared by every provider that
// hands over a raw message (SMTP, the file outbox).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "sc/core/message.h"

namespace sc::providers {

// The complete message (headers, blank line, body) with CRLF line ends.
// Header values never contain CR, LF or NUL (they are replaced by a space),
// non-ASCII header text is RFC 2047 encoded, bodies are quoted-printable so
// no line exceeds 76 octets whatever the content.
std::string build_mime(const OutboundEmail& message);

// The pieces, exposed for tests and for providers that need one of them.
// "Sat, 28 Nov 2026 01:10:49 +0000" (English names, UTC).
std::string rfc5322_date(std::int64_t unix_seconds);
// `"Name" <addr>`, `=?UTF-8?B?…?= <addr>` or `<addr>`; may contain CRLF SP folds.
std::string format_mailbox(const Mailbox& mailbox);
// Quoted-printable (RFC 2045 §6.7) of text whose line ends may be LF, CRLF or
// CR; output lines end in CRLF and are at most 76 octets.
std::string quoted_printable(std::string_view text);
// Replaces CR, LF and NUL (and other C0 controls) with a space.
std::string sanitize_header_value(std::string_view value);

}  // namespace sc::providers

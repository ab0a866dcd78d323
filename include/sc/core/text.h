// Text checks shared by every layer: UTF-8 validity, control characters, trimming.
#pragma once
#include <string>
#include <string_view>

namespace sc::text {

bool is_valid_utf8(std::string_view s);
// Length of the well-formed UTF-8 sequence at s[i], or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);
// Appends s as a JSON string (RFC 8259): quoted, with '"', '\\' and control
// characters escaped; a byte that is not UTF-8 becomes U+FFFD, so the
// result is always valid JSON.
void append_json_string(std::string& out, std::string_view s);
// True if s holds NUL, CR, LF or any other C0/C1 control, a bidi control
// (embedding, override, isolate, mark) or a line/paragraph separator.
bool has_control(std::string_view s);
std::string_view trim(std::string_view s);
std::string to_lower_ascii(std::string_view s);
// Equal when A-Z and a-z are taken as the same (header names, schemes).
bool iequals_ascii(std::string_view a, std::string_view b);
// Number of code points (s must be valid UTF-8).
std::size_t utf8_length(std::string_view s);
// Removes CR, LF and NUL so a value can never start a new header line.
std::string strip_crlf(std::string_view s);

}  // namespace sc::text

namespace sc {
class Signer;
}  // namespace sc

namespace sc::text {
// Compares values whose length is public (MACs, digests) without an early exit
// on content. It returns at once when the lengths differ, so a secret whose
// length is itself secret (an API key) goes through digest_equal instead.
bool constant_time_equal(std::string_view a, std::string_view b);
// Compares two secrets of any length in time that depends on neither: both are
// reduced to fixed-length digests by `digest` (HMAC with a process key, through
// the Signer port; core has no hash of its own) and those are compared.
bool digest_equal(const Signer& digest, std::string_view a, std::string_view b);
}  // namespace sc::text

namespace sc::text {
// Lower-case hex of raw bytes (tokens, hashes).
std::string hex(std::string_view raw);
}  // namespace sc::text

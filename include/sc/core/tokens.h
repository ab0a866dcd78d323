// Signed, tamper-evident tokens for confirm and unsubscribe links.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "sc/core/ports/services.h"
#include "sc/core/result.h"

namespace sc {

// kPreferences: the person's own page (/preferences/{token}); it does not expire.
enum class TokenPurpose { kConfirm, kUnsubscribe, kPreferences };

struct TokenClaims {
  TokenPurpose purpose = TokenPurpose::kConfirm;
  std::int64_t channel_id = 0;
  std::int64_t expires_at = 0;  // 0: never (unsubscribe tokens do not expire)
  // Confirm tokens: the channel's state_version when the link was sent
  // (0: not written into the token, as in links sent before versions).
  std::int64_t version = 0;
};

// Format: "<c|u|p>.<channel id>.<expiry>.<hex HMAC-SHA256>", and for a confirm
// token with a state version "c.<id>.<expiry>.<version>.<mac>". The MAC covers
// a format tag, the purpose, the id, the expiry and the version, so a confirm
// token cannot be replayed as an unsubscribe token or edited to another id.
class TokenCodec {
 public:
  static constexpr std::size_t kMaxLength = 128;
  // The longest confirm link the service issues (ServiceConfig::confirm_ttl_seconds
  // must not exceed it). A genuine MAC over a later expiry came from a leaked or
  // misused key, not from us, and would be a link that never expires.
  static constexpr std::int64_t kMaxConfirmTtlSeconds = 30LL * 24 * 3600;
  explicit TokenCodec(const Signer& signer,
                      std::int64_t max_confirm_ttl_seconds = kMaxConfirmTtlSeconds)
      : signer_(signer), max_confirm_ttl_(max_confirm_ttl_seconds) {}
  std::string issue(const TokenClaims& claims) const;
  // kBadToken for anything malformed, foreign or of the wrong purpose;
  // kExpired for a genuine token past its expiry; a confirm token expiring
  // more than max_confirm_ttl_seconds after `now` is kBadToken.
  Result<TokenClaims> verify(std::string_view token, TokenPurpose expected, std::int64_t now) const;

 private:
  const Signer& signer_;
  std::int64_t max_confirm_ttl_;
};

}  // namespace sc

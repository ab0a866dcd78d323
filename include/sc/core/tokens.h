// Signed, tamper-evident tokens for confirm and unsubscribe links.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "sc/core/ports.h"
#include "sc/core/result.h"

namespace sc {

enum class TokenPurpose { kConfirm, kUnsubscribe };

struct TokenClaims {
  TokenPurpose purpose = TokenPurpose::kConfirm;
  std::int64_t channel_id = 0;
  std::int64_t expires_at = 0;  // 0: never (unsubscribe tokens do not expire)
};

// Format: "<c|u>.<channel id>.<expiry>.<hex HMAC-SHA256>". The MAC covers a
// version tag, the purpose, the id and the expiry, so a confirm token cannot
// be replayed as an unsubscribe token or edited to another id.
class TokenCodec {
 public:
  static constexpr std::size_t kMaxLength = 128;
  // The longest confirm link the service issues (ServiceConfig::confirm_ttl_seconds
  // must not exceed it). A genuine MAC over a later expiry came from a leaked or
  // misused key, not from us, and would be a link that never expires.
  static constexpr std::int64_t kMaxConfirmTtlSeconds = 30LL * 24 * 3600;
  explicit TokenCodec(const Signer& signer, std::int64_t max_confirm_ttl_seconds = kMaxConfirmTtlSeconds)
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

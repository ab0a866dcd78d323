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
  explicit TokenCodec(const Signer& signer) : signer_(signer) {}
  std::string issue(const TokenClaims& claims) const;
  // kBadToken for anything malformed, foreign or of the wrong purpose;
  // kExpired for a genuine token past its expiry.
  Result<TokenClaims> verify(std::string_view token, TokenPurpose expected, std::int64_t now) const;

 private:
  const Signer& signer_;
};

}  // namespace sc

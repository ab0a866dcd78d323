#include "sc/core/erasure.h"

#include "sc/core/text.h"

namespace sc {

std::string suppression_key(const Signer& signer, ChannelKind kind, std::string_view address) {
  const std::string normalised =
      kind == ChannelKind::kEmail ? text::to_lower_ascii(address) : std::string(address);
  return text::hex(signer.sign("stayconnected suppression\n" + std::string(to_string(kind)) + "\n" +
                               normalised));
}

std::string erased_pseudonym(std::string_view key) { return "erased:" + std::string(key); }

Result<ErasureOutcome> erase_subscriber(const Transaction& tx, const Signer& signer,
                                        std::int64_t id, std::string_view reason,
                                        std::int64_t now) {
  if (!tx.subscribers.subscriber_by_id(id))
    return Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""};
  ErasureOutcome out;
  out.subscriber_id = id;
  for (const auto& ch : tx.subscribers.channels_of(id)) {
    const auto key = suppression_key(signer, ch.kind, ch.address);
    tx.suppressions.suppress(ch.kind, key, reason, now);
    out.channels.push_back(ErasedChannel{ch.kind, ch.address,
                                         tx.erasure.erase_channel(ch, erased_pseudonym(key), now)});
  }
  tx.erasure.erase_subscriber(id);
  return out;
}

}  // namespace sc

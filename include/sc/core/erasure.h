// Erasure and the suppression list: a person's personal data is removed
// from every table; what proves that a consent or an opt-out happened (when,
// how, under which wording) stays under a pseudonym; and their address and
// number go on the suppression list as keyed hashes, which imports and
// operators respect. A new sign-up through the public form is fresh consent
// and is allowed.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/model.h"
#include "sc/core/ports/services.h"
#include "sc/core/ports/stores.h"
#include "sc/core/result.h"

namespace sc {

// The suppression key of an address: the hex HMAC-SHA256 under the service
// secret (`signer`) of the kind and the normalised address (an email in
// lower case; an E.164 number as it is). A plain hash would not do: every
// phone number of a country can be tried.
std::string suppression_key(const Signer& signer, ChannelKind kind, std::string_view address);

// What an erasure leaves where the address was: "erased:" and the key, so
// that an operator who is given the address again can find the proof.
std::string erased_pseudonym(std::string_view key);

struct ErasedChannel {
  ChannelKind kind = ChannelKind::kEmail;
  std::string address;                   // for the local providers' copies only
  std::vector<std::int64_t> outbox_ids;  // the messages that were sent or queued to it
};

struct ErasureOutcome {
  std::int64_t subscriber_id = 0;
  std::vector<ErasedChannel> channels;
};

// Erases subscriber `id` within the transaction: every channel goes on the
// suppression list (reason: why, "admin" or "self") and is erased, then the
// subscriber. kNotFound for an unknown id (so a second erasure is a 404).
Result<ErasureOutcome> erase_subscriber(const Transaction& tx, const Signer& signer,
                                        std::int64_t id, std::string_view reason, std::int64_t now);

}  // namespace sc

#include "sc/storage/adapters.h"

namespace sc::storage {

void QueuedUnitOfWork::run(const std::function<void(const Transaction&)>& fn) {
  writer_.run([&](WriteContext& c) { fn(c.tx()); });
}

std::optional<SubscriberView> PooledReadStore::subscriber_by_channel(ChannelKind kind,
                                                                     const std::string& address) {
  return reads_.subscriber_by_channel(kind, address);
}

std::vector<ConsentLogView> PooledReadStore::unknown_number_log(const std::string& address) {
  return reads_.unknown_number_log(address);
}

std::vector<StoredInboundText> PooledReadStore::inbound_for_review(int limit, std::int64_t before) {
  return reads_.inbound_for_review(limit, before);
}

bool PooledReadStore::healthy() { return reads_.healthy(); }

}  // namespace sc::storage

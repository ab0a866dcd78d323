#include "sc/storage/adapters.h"

namespace sc::storage {

void QueuedUnitOfWork::run(const std::function<void(ConsentStore&)>& fn) {
  writer_.run([&](WriteContext& c) { fn(c.consent()); });
}

std::optional<SubscriberView> PooledReadStore::subscriber_by_channel(ChannelKind kind,
                                                                     const std::string& address) {
  return reads_.subscriber_by_channel(kind, address);
}

bool PooledReadStore::healthy() { return reads_.healthy(); }

}  // namespace sc::storage

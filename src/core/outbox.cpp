#include "sc/core/outbox.h"

namespace sc {

const char* to_string(OutboxLane lane) {
  return lane == OutboxLane::kBulk ? "bulk" : "transactional";
}

}  // namespace sc

// What /healthz and /metrics report about the database's writes (filled by
// storage) and the providers the dispatcher sends through (filled by app from
// the dispatcher); http only shows it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sc {

// Whether the database takes writes: false while the writer's last batch
// failed (a full disk, an unreachable server), true again after a commit.
struct DatabaseHealth {
  bool writable = true;
  std::string reason;      // fixed words and the database's short error text, no path or URL
  std::int64_t since = 0;  // unix seconds the failing began
};

struct ProviderHealth {
  std::string name;        // "smtp", "sendgrid", "twilio", …
  std::string channel;     // "email" or "sms"
  bool paused = false;     // our credentials were refused; probing until accepted
  std::string reason;      // the provider's last refusal, when paused
  std::int64_t since = 0;  // unix seconds the pause began
  int consecutive_failures = 0;
  std::int64_t next_probe_at = 0;  // unix seconds
};

}  // namespace sc

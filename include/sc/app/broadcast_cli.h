// `stayconnected broadcasts list|show ID|watch ID`: operators' view of the
// broadcasts, read straight from the database (read-only connections, so it
// works beside a running service and never waits for its writer).
#pragma once
#include <string>
#include <vector>

#include "sc/app/config.h"

namespace sc {

// args[0] is "broadcasts". Returns the exit code: 0 ok (watch: the broadcast
// completed or was cancelled), 1 the database failed, 2 bad usage or an
// unknown id, 3 watch --exit-on-pause saw the broadcast paused.
int cmd_broadcasts(const Config& config, const std::vector<std::string>& args);

}  // namespace sc

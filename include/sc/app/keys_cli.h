// `stayconnected keys create|list|revoke`: admin API keys, made and revoked on
// the host (beside broadcast_cli.h, the other operator command).
#pragma once
#include <string>
#include <vector>

#include "sc/app/config.h"

namespace sc {

// args[0] is "keys". Returns the exit code: 0 ok, 2 bad usage, a taken or
// unknown name, or no database at SC_DB.
int cmd_keys(const Config& config, const std::vector<std::string>& args);

}  // namespace sc

// The service's commands besides the operator CLIs (keys_cli.h,
// broadcast_cli.h): serve, migrate, send-test-email.
#pragma once
#include <string>

#include "sc/app/config.h"

namespace sc {

// Runs the HTTP service and the dispatcher until SIGINT or SIGTERM.
int cmd_serve(Config config);
// Creates or upgrades the database and prints what it applied.
int cmd_migrate(const Config& config);
// Sends one message through the configured email provider and prints its answer.
int cmd_send_test_email(Config config, const std::string& address);

}  // namespace sc

// The service's commands besides the operator CLIs (keys_cli.h,
// broadcast_cli.h): serve, migrate, migrate-data, send-test-email.
#pragma once
#include <string>
#include <vector>

#include "sc/app/config.h"

namespace sc {

// Runs the HTTP service and the dispatcher until SIGINT or SIGTERM.
int cmd_serve(Config config);
// Creates or upgrades the database and prints what it applied.
int cmd_migrate(const Config& config);
// `migrate-data --from FILE --to URL` (args[0] is the command): copies a
// SQLite installation into an empty PostgreSQL database and prints the row
// counts per table. 0 copied, 2 refused or bad usage, 1 failed (rolled back).
int cmd_migrate_data(const std::vector<std::string>& args);
// Sends one message through the configured email provider and prints its answer.
int cmd_send_test_email(Config config, const std::string& address);

}  // namespace sc

// The service's commands besides the operator CLIs (keys_cli.h,
// broadcast_cli.h): serve, migrate, migrate-data, send-test-email.
#pragma once
#include <string>
#include <vector>

#include "sc/app/config.h"
#include "sc/core/metrics.h"
#include "sc/dispatch/import_runner.h"
#include "sc/storage/open.h"

namespace sc {

// Opens the database, migrating it and registering the consent texts (serve
// and the CLI commands that write).
std::unique_ptr<storage::Database> open_database(const Config& c, metrics::Registry& registry);
// The import runner's settings from the config.
ImportRunner::Options import_runner_options(const Config& c);
// `import FILE --mode confirmed|pending [--dry-run] [--rows FILE]`
// (args[0] is the command; import_cli.cpp): stores the file as an import and
// applies it, printing progress and the counts. 0 completed, 1 failed (the
// database), 2 bad usage or the file refused whole.
int cmd_import(Config config, const std::vector<std::string>& args);

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

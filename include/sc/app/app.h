// The command line: serve, migrate, send-test-email, --help.
#pragma once

namespace sc {
// Returns the process exit code: 0 ok, 1 a command failed, 2 bad usage or config.
int run_cli(int argc, char** argv);
}  // namespace sc

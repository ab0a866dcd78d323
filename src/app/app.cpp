// The command line: reads the configuration and runs one command. What each
// command does is in its own file (serve.cpp, keys_cli.cpp, broadcast_cli.cpp,
// send_test_email.cpp, help.cpp).
#include "sc/app/app.h"

#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sc/app/broadcast_cli.h"
#include "sc/app/commands.h"
#include "sc/app/config.h"
#include "sc/app/help.h"
#include "sc/app/keys_cli.h"
#include "sc/storage/storage.h"

namespace sc {

int cmd_migrate(const Config& config) {
  auto applied = storage::migrate(config.db_path);
  for (const auto& m : applied) std::printf("applied %04d_%s\n", m.version, m.name.c_str());
  std::printf("database %s is up to date\n", config.db_redacted.c_str());
  return 0;
}

namespace {

// The environment wins over --config FILE.
Config read_config(const std::string& config_file) {
  Env env;
  if (!config_file.empty()) env = read_config_file(config_file);
  for (auto& [k, v] : environment()) env[k] = v;
  auto config = load_config(env);
  for (const auto& w : config.warnings)
    std::fprintf(stderr, "stayconnected: warning: %s\n", w.c_str());
  return config;
}

int run_command(const std::vector<std::string>& args, Config config) {
  const auto& cmd = args[0];
  if (cmd == "migrate" && args.size() == 1) {
    check_data_dir(config);
    return cmd_migrate(config);
  }
  if (cmd == "migrate-data") return cmd_migrate_data(args);
  if (cmd == "serve" && args.size() == 1) return cmd_serve(std::move(config));
  if (cmd == "keys") return cmd_keys(config, args);
  if (cmd == "broadcasts") return cmd_broadcasts(config, args);
  if (cmd == "import") return cmd_import(std::move(config), args);
  if (cmd == "send-test-email" && args.size() == 2)
    return cmd_send_test_email(std::move(config), args[1]);
  std::fprintf(stderr, "stayconnected: unknown command or wrong arguments: %s (see --help)\n",
               cmd.c_str());
  return 2;
}

}  // namespace

int run_cli(int argc, char** argv) {
  // Every file the service writes (database, secret, outbox, SMS log) holds
  // personal data or keys: private whatever umask it was started with, not
  // only under systemd's UMask=0077.
  ::umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_file;
  if (args.size() >= 2 && args[0] == "--config") {
    config_file = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("stayconnected %.*s\n", static_cast<int>(version().size()), version().data());
    return 0;
  }
  try {
    return run_command(args, read_config(config_file));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "stayconnected: configuration error: %s\n", e.what());
    return 2;
  } catch (const storage::StorageError& e) {
    std::fprintf(stderr, "stayconnected: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stayconnected: %s\n", e.what());
    return 1;
  }
}

}  // namespace sc

#include "sc/app/keys_cli.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>

#include "sc/core/admin.h"
#include "sc/providers/crypto.h"
#include "sc/storage/admin_keys.h"
#include "sc/storage/storage.h"

namespace sc {
namespace {

std::string utc_time(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Who did it, in the audit log, when a key is made or revoked on the host.
const std::string kCliActor(kCliActorName);

// A key's name: what the audit log and `keys list` show for it. The names
// the log uses for the bootstrap key and the CLI are reserved.
bool valid_key_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || reserved_key_name(name)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "stayconnected: %s\n", message.c_str());
  return 2;
}

// The key commands use SC_DB as the service does; arguments are checked
// before anything is touched. The database must exist already (serve or
// migrate makes it): a key put into a new, empty one by a wrong or missing
// SC_DB would be a key the service never sees.
void open_database(const Config& config) {
  std::error_code ec;
  // A URL (a database server) is no file: storage finds what is there.
  if (config.db_path.find("://") == std::string::npos &&
      !std::filesystem::is_regular_file(config.db_path, ec))
    throw ConfigError("no database at " + config.db_path +
                      " (set SC_DB, or run `stayconnected migrate` first)");
  check_data_dir(config);
  storage::migrate(config.db_path);
}

constexpr const char* kUsage =
    "usage: stayconnected keys create --name NAME --scope read|send|admin | keys list | keys "
    "revoke NAME";

// --name NAME / --name=NAME and --scope alike, in any order.
struct CreateArgs {
  std::optional<std::string> name, scope_text;
};

// Empty: the arguments parse; else the usage error's message.
std::string parse_create_args(const std::vector<std::string>& args, CreateArgs& out) {
  for (std::size_t i = 2; i < args.size(); ++i) {
    const auto& a = args[i];
    auto take = [&](const char* flag, std::optional<std::string>& value) {
      const std::string f = flag;
      if (a == f) {
        if (i + 1 >= args.size()) return false;
        value = args[++i];
        return true;
      }
      if (a.rfind(f + "=", 0) == 0) {
        value = a.substr(f.size() + 1);
        return true;
      }
      return false;
    };
    if (take("--name", out.name) || take("--scope", out.scope_text)) continue;
    return "keys create: unexpected argument \"" + a + "\"; " + kUsage;
  }
  return {};
}

int create_key(const Config& config, const std::vector<std::string>& args) {
  CreateArgs parsed;
  if (auto problem = parse_create_args(args, parsed); !problem.empty()) return usage_error(problem);
  const auto& name = parsed.name;
  const auto& scope_text = parsed.scope_text;
  if (!name) return usage_error(std::string("keys create: --name is required; ") + kUsage);
  if (!scope_text) return usage_error(std::string("keys create: --scope is required; ") + kUsage);
  if (!valid_key_name(*name))
    return usage_error("keys create: bad name \"" + *name +
                       "\": 1 to 64 letters, digits, '.', '_' or '-', and not "
                       "SC_ADMIN_API_KEY or cli (the audit log's names for the bootstrap "
                       "key and this CLI)");
  auto scope = scope_from(*scope_text);
  if (!scope)
    return usage_error("keys create: bad scope \"" + *scope_text +
                       "\": must be read, send or admin");
  // 256 random bits: a plain SHA-256 of the key is all that is stored.
  const std::string key = "sc_" + crypto::base64url(crypto::random_bytes(32));
  open_database(config);
  auto r =
      storage::create_admin_key(config.db_path, *name, *scope, key, kCliActor, std::time(nullptr));
  if (r == storage::KeyChange::kNameTaken)
    return usage_error("keys create: a key named \"" + *name +
                       "\" already exists (names are never reused, revoked ones included)");
  std::printf("%s\n", key.c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "stayconnected: created key \"%s\" (scope %s); it is shown only this once, "
               "only its hash is stored\n",
               name->c_str(), to_string(*scope));
  return 0;
}

int list_keys(const Config& config) {
  open_database(config);
  auto keys = storage::list_admin_keys(config.db_path);
  std::printf("%-24s %-6s %-16s %-21s %s\n", "NAME", "SCOPE", "PREFIX", "CREATED", "REVOKED");
  for (const auto& k : keys) {
    std::printf("%-24s %-6s %-16s %-21s %s\n", k.name.c_str(), to_string(k.scope),
                (k.prefix + "...").c_str(), utc_time(k.created_at).c_str(),
                utc_time(k.revoked_at).c_str());
  }
  return 0;
}

int revoke_key(const Config& config, const std::string& name) {
  open_database(config);
  auto r = storage::revoke_admin_key(config.db_path, name, kCliActor, std::time(nullptr));
  if (r == storage::KeyChange::kUnknownName)
    return usage_error("keys revoke: no key named \"" + name + "\" (see keys list)");
  std::fprintf(stderr, "stayconnected: key \"%s\" %s\n", name.c_str(),
               r == storage::KeyChange::kAlreadyRevoked ? "was already revoked" : "revoked");
  return 0;
}

}  // namespace

// keys create --name NAME --scope SCOPE | keys list | keys revoke NAME.
int cmd_keys(const Config& config, const std::vector<std::string>& args) {
  if (args.size() < 2) return usage_error(std::string("keys: missing subcommand; ") + kUsage);
  const auto& sub = args[1];
  if (sub == "create") return create_key(config, args);
  if (sub == "list" && args.size() == 2) return list_keys(config);
  if (sub == "revoke") {
    if (args.size() != 3) return usage_error(std::string("keys revoke: give one NAME; ") + kUsage);
    return revoke_key(config, args[2]);
  }
  return usage_error("keys: unknown subcommand or wrong arguments: " + sub + "; " + kUsage);
}

}  // namespace sc

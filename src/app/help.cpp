#include "sc/app/help.h"

#include "sc/app/config.h"

#ifndef SC_VERSION
#error "SC_VERSION comes from project() in CMakeLists.txt"
#endif

namespace sc {
namespace {

constexpr const char* kHelp = R"(stayconnected - email and SMS sign-ups with double opt-in

Usage: stayconnected [--config FILE] COMMAND

Commands:
  serve                   run the HTTP service and the outbox dispatcher
  migrate                 create or upgrade the database, then exit
  migrate-data --from FILE --to URL
                          copy a SQLite installation (every table, ids kept)
                          into an empty PostgreSQL database in one
                          transaction; prints the rows per table and the
                          SC_SECRET_FILE the instances need for old links
  send-test-email ADDRESS send one message through the configured email
                          provider and print the provider's answer
  keys create --name NAME --scope read|send|admin
                          make an admin API key and print it (only this once)
  keys list               the keys: name, scope, prefix, created, revoked
  keys revoke NAME        revoke a key (refused from the next request on)
  broadcasts list [--limit N] [--before ID]
                          broadcasts, newest first: id, channel, status,
                          created, counts
  broadcasts show ID      one broadcast: every field, its counts, the pause
                          reason, an SMS text's segments
  broadcasts watch ID [--interval SECONDS] [--exit-on-pause]
                          a progress bar (counts, rate, ETA) until the
                          broadcast completes or is cancelled; a pause is
                          shown with its reason (--exit-on-pause: exit 3)
  --help, help            show this text
  --version               print the version

Configuration comes from SC_* environment variables (see deploy/stayconnected.env);
--config FILE reads KEY=VALUE lines first, and the environment overrides them.
Exit codes: 0 ok, 1 the command failed, 2 bad usage or configuration (or an
unknown broadcast id), 3 broadcasts watch --exit-on-pause saw a pause.
)";

}  // namespace

void print_help(std::FILE* out) {
  std::fputs(kHelp, out);
  std::fputs("\nVariables (default):\n", out);
  for (const auto& v : config_variables()) {
    std::fprintf(out, "  %-32.*s %.*s", static_cast<int>(v.name.size()), v.name.data(),
                 static_cast<int>(v.help.size()), v.help.data());
    if (!v.fallback.empty())
      std::fprintf(out, " (%.*s)", static_cast<int>(v.fallback.size()), v.fallback.data());
    std::fputc('\n', out);
  }
}

std::string_view version() { return SC_VERSION; }

}  // namespace sc

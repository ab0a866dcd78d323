// `stayconnected import FILE --mode confirmed|pending [--dry-run] [--rows FILE]`:
// an import from the host, the same as POST /api/v1/admin/imports (checked
// whole and stored before anything changes, then applied a part per
// transaction by an import runner), without the HTTP service. Its consent-log
// rows and audit entry name the key "cli".
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "sc/app/commands.h"
#include "sc/app/wiring.h"
#include "sc/core/admin.h"
#include "sc/core/import.h"

namespace sc {

namespace {

struct ImportArgs {
  std::string file, rows_out;
  ImportMode mode = ImportMode::kConfirmed;
  bool dry_run = false;
};

std::optional<ImportArgs> parse_args(const std::vector<std::string>& args) {
  ImportArgs a;
  bool mode = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--mode" && i + 1 < args.size()) {
      auto m = import_mode_from(args[++i]);
      if (!m) return std::nullopt;
      a.mode = *m;
      mode = true;
    } else if (arg == "--dry-run") {
      a.dry_run = true;
    } else if (arg == "--rows" && i + 1 < args.size()) {
      a.rows_out = args[++i];
    } else if (a.file.empty() && !arg.empty() && arg[0] != '-') {
      a.file = arg;
    } else {
      return std::nullopt;
    }
  }
  if (!mode || a.file.empty()) return std::nullopt;
  return a;
}

// Reads the file into an upload; a refusal is printed (exit 2).
std::optional<std::int64_t> store(ImportTransactions& tx, const ImportArgs& a, const Config& c,
                                  std::int64_t now) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "stayconnected: import: cannot read %s\n", a.file.c_str());
    return std::nullopt;
  }
  ImportJob job;
  job.mode = a.mode;
  job.dry_run = a.dry_run;
  job.key_name = "cli";
  job.created_at = now;
  ImportLimits limits;
  limits.max_bytes = static_cast<std::uint64_t>(c.import_max_bytes);
  limits.max_rows = c.import_max_rows;
  ImportUpload up(tx, job, limits);
  std::vector<char> buf(1 << 16);
  std::optional<ImportRefusal> refused;
  while (!refused && in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0)
      refused = up.feed(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (!refused) {
    refused = up.finish([&](const ImportTransaction& t, std::int64_t id) {
      AuditEntry e;
      e.at = now;
      e.key_name = "cli";
      e.action = "import.create";
      e.target = "import " + std::to_string(id);
      e.detail = std::string("mode=") + to_string(a.mode) + (a.dry_run ? " dry_run" : "") +
                 " rows=" + std::to_string(up.rows());
      t.tx.audit.append(e);
    });
  }
  if (refused) {
    std::fprintf(stderr, "stayconnected: import refused (%s): %s; nothing was changed\n",
                 refused->code.c_str(), refused->message.c_str());
    return std::nullopt;
  }
  std::printf("import %lld: %lld rows stored, mode=%s%s\n", static_cast<long long>(up.id()),
              static_cast<long long>(up.rows()), to_string(a.mode), a.dry_run ? ", dry run" : "");
  return up.id();
}

void write_rows(ImportReads& reads, std::int64_t id, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << kImportRowsCsvHeader;
  std::int64_t after = 0;
  while (true) {
    auto page = reads.rows(id, after, 1000);
    for (const auto& r : page) {
      out << import_row_csv(r);
      after = r.line;
    }
    if (page.size() < 1000) break;
  }
}

}  // namespace

int cmd_import(Config config, const std::vector<std::string>& args) {
  const auto a = parse_args(args);
  if (!a) {
    std::fprintf(stderr,
                 "usage: stayconnected import FILE --mode confirmed|pending [--dry-run] "
                 "[--rows FILE]\n");
    return 2;
  }
  check_data_dir(config);
  config.secret = resolve_secret(config);
  metrics::Registry registry;
  auto db = open_database(config, registry);
  Wiring w(std::move(config));
  const auto id = store(db->import_tx(), *a, w.config, w.clock.now_unix());
  if (!id) return 2;
  // Applies it here (or watches the running service apply it, if that took it first).
  ImportRunner runner(*w.service, db->import_tx(), db->import_reads(), w.clock,
                      import_runner_options(w.config));
  std::optional<ImportJob> job;
  auto last = std::chrono::steady_clock::now();
  while ((job = db->import_reads().get(*id)) && job->status == ImportStatus::kRunning) {
    if (!runner.step()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() - last > std::chrono::seconds(2)) {
      last = std::chrono::steady_clock::now();
      std::printf("  %lld of %lld parts, %lld rows\n", static_cast<long long>(job->next_part),
                  static_cast<long long>(job->parts), static_cast<long long>(job->counts.rows));
      std::fflush(stdout);
    }
  }
  db->stop();
  if (!job) return 1;
  const auto& c = job->counts;
  std::printf("import %lld %s: rows %lld, added %lld, updated %lld, unchanged %lld, refused %lld\n",
              static_cast<long long>(job->id), to_string(job->status),
              static_cast<long long>(c.rows), static_cast<long long>(c.added),
              static_cast<long long>(c.updated), static_cast<long long>(c.unchanged),
              static_cast<long long>(c.refused));
  if (!a->rows_out.empty()) write_rows(db->import_reads(), job->id, a->rows_out);
  return job->status == ImportStatus::kCompleted ? 0 : 1;
}

}  // namespace sc

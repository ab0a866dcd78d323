// POST /api/v1/admin/imports (the CSV streamed, checked whole and stored
// before anything changes), GET /api/v1/admin/imports/{id} and
// GET /api/v1/admin/imports/{id}/rows.csv. The import itself is applied by
// the runner (src/dispatch/import_runner.cpp).
#include <string>
#include <vector>

#include "edge_server.h"
#include "routes.h"
#include "sc/core/import.h"
#include "sc/core/text.h"

namespace sc::detail {

namespace {

using nlohmann::json;

constexpr int kRowsPage = 1000;

Error refusal_error(const ImportRefusal& r) {
  return Error{r.status == 413 ? ErrorCode::kTooLarge : ErrorCode::kInvalidInput, r.code, r.message,
               ""};
}

// text/csv, in UTF-8 when a charset is named.
bool csv_media_type(const std::string& value) {
  const auto lower = text::to_lower_ascii(value);
  const auto semi = lower.find(';');
  if (text::trim(std::string_view(lower).substr(0, semi)) != "text/csv") return false;
  if (semi == std::string::npos) return true;
  const auto params = lower.substr(semi + 1);
  const auto cs = params.find("charset=");
  if (cs == std::string::npos) return true;
  auto v = text::trim(std::string_view(params).substr(cs + 8));
  v = v.substr(0, v.find(';'));
  if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() > 1 ? v.size() - 2 : 0);
  return v == "utf-8" || v == "utf8";
}

std::optional<Error> import_params(const httplib::Request& req, ImportJob& job) {
  auto mode = import_mode_from(req.get_param_value("mode"));
  if (!mode) return invalid("invalid_mode", "mode must be 'confirmed' or 'pending'", "mode");
  job.mode = *mode;
  if (req.has_param("dry_run")) {
    const auto d = req.get_param_value("dry_run");
    if (d != "true" && d != "false")
      return invalid("invalid_dry_run", "dry_run must be 'true' or 'false'", "dry_run");
    job.dry_run = d == "true";
  }
  if (!csv_media_type(req.get_header_value("Content-Type")))
    return Error{ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                 "an import is sent as text/csv (UTF-8)", ""};
  return std::nullopt;
}

// Reads the body into the upload; a refusal drops what was stored (the
// upload's destructor).
std::optional<Error> receive(const httplib::Request& req, ImportUpload& up) {
  BodyStream* body = streamed_body();
  std::vector<char> buf(64 * 1024);
  std::size_t offset = 0;  // into req.body, when the edge did not stream it
  while (true) {
    long n = 0;
    if (body != nullptr) {
      n = body->read(buf.data(), buf.size());
      if (n < 0) {
        const bool large = body->status() == 413;
        return Error{large ? ErrorCode::kTooLarge : ErrorCode::kBadRequest,
                     large ? "payload_too_large" : "bad_request", body->message(), ""};
      }
    } else {
      n = static_cast<long>(std::min(buf.size(), req.body.size() - offset));
      std::copy_n(req.body.data() + offset, n, buf.data());
      offset += static_cast<std::size_t>(n);
    }
    if (n == 0) return std::nullopt;
    if (auto r = up.feed(std::string_view(buf.data(), static_cast<std::size_t>(n))))
      return refusal_error(*r);
  }
}

void create_import(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto who = authorize(env, req, res, Scope::kAdmin);
  if (!who) return;
  if (env.deps.import_tx == nullptr || env.deps.import_reads == nullptr) {
    return env.respond.json_error(
        res, Error{ErrorCode::kUnsupported, "unsupported", "imports are not available here", ""});
  }
  ImportJob job;
  job.key_name = who->key_name;
  job.created_at = env.deps.clock.now_unix();
  if (auto e = import_params(req, job)) return env.respond.json_error(res, *e);
  ImportLimits limits;
  limits.max_bytes = env.options.max_import_bytes;
  limits.max_rows = env.options.max_import_rows;
  ImportUpload up(*env.deps.import_tx, job, limits);
  if (auto e = receive(req, up)) return env.respond.json_error(res, *e);
  const auto detail = std::string("mode=") + to_string(job.mode) + (job.dry_run ? " dry_run" : "");
  if (auto r = up.finish([&](const ImportTransaction& t, std::int64_t id) {
        audit(t.tx.audit, env, *who, "import.create", "import " + std::to_string(id), req,
              detail + " rows=" + std::to_string(up.rows()));
      })) {
    return env.respond.json_error(res, refusal_error(*r));
  }
  const auto id = up.id();
  if (env.deps.import_wake) env.deps.import_wake();
  env.respond.json(res, 202,
                   {{"id", id},
                    {"status", "running"},
                    {"mode", to_string(job.mode)},
                    {"dry_run", job.dry_run},
                    {"rows", up.rows()}});
}

json job_json(const ImportJob& j) {
  json out = {{"id", j.id},
              {"status", to_string(j.status)},
              {"mode", to_string(j.mode)},
              {"dry_run", j.dry_run},
              {"created_by", j.key_name},
              {"created_at", time_json(j.created_at)},
              {"finished_at", time_json(j.finished_at)},
              {"parts", j.parts},
              {"parts_done", j.next_part},
              {"counts",
               {{"rows", j.counts.rows},
                {"added", j.counts.added},
                {"updated", j.counts.updated},
                {"unchanged", j.counts.unchanged},
                {"refused", j.counts.refused}}}};
  if (!j.error.empty()) out["error"] = j.error;
  return out;
}

// The import of the path, when it is stored whole; 404 otherwise.
std::optional<ImportJob> visible_job(const RouteEnv& env, const httplib::Request& req,
                                     httplib::Response& res) {
  if (!authorize(env, req, res, Scope::kRead)) return std::nullopt;
  auto id = path_id(req.matches[1], "import");
  std::optional<ImportJob> job;
  if (id && env.deps.import_reads != nullptr) job = env.deps.import_reads->get(id.value());
  if (!job || job->status == ImportStatus::kReceiving) {
    env.respond.json_error(res, Error{ErrorCode::kNotFound, "not_found", "no such import", ""});
    return std::nullopt;
  }
  return job;
}

void show_import(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  if (auto job = visible_job(env, req, res)) env.respond.json(res, 200, job_json(*job));
}

void import_rows_csv(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto job = visible_job(env, req, res);
  if (!job) return;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Disposition",
                 "attachment; filename=\"import-" + std::to_string(job->id) + "-rows.csv\"");
  res.set_chunked_content_provider(
      "text/csv; charset=utf-8",
      [reads = env.deps.import_reads, id = job->id, after = std::int64_t{0}, header = false](
          std::size_t, httplib::DataSink& sink) mutable {
        std::string out;
        if (!header) out = kImportRowsCsvHeader;
        header = true;
        std::vector<ImportRowVerdict> page;
        try {
          page = reads->rows(id, after, kRowsPage);
        } catch (const std::exception&) {
          return false;  // ends without its last chunk: incomplete, never short
        }
        for (const auto& r : page) {
          out += import_row_csv(r);
          after = r.line;
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (static_cast<int>(page.size()) < kRowsPage) sink.done();
        return true;
      });
}

}  // namespace

void add_import_routes(Router& router, const RouteEnv& env) {
  router.post("/api/v1/admin/imports", [&env](const httplib::Request& q, httplib::Response& s) {
    create_import(env, q, s);
  });
  router.get(R"(/api/v1/admin/imports/([^/]*))",
             [&env](const httplib::Request& q, httplib::Response& s) { show_import(env, q, s); });
  router.get(
      R"(/api/v1/admin/imports/([^/]*)/rows\.csv)",
      [&env](const httplib::Request& q, httplib::Response& s) { import_rows_csv(env, q, s); });
}

}  // namespace sc::detail

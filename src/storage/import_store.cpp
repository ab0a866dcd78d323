// Imports (sc/core/import.h) on the writer and on read connections.
#include <string>
#include <vector>

#include "read_pool_impl.h"
#include "sc/storage/storage.h"
#include "sqlite_stores.h"

namespace sc::storage {

namespace {

using detail::Row;

// The columns of imports.by_id and imports.claim, in their order.
ImportJob read_job(const Row& r) {
  ImportJob j;
  j.id = r.get<std::int64_t>(0);
  j.mode = import_mode_from(r.get<std::string>(1)).value_or(ImportMode::kConfirmed);
  j.dry_run = r.get<std::int64_t>(2) != 0;
  j.status = import_status_from(r.get<std::string>(3)).value_or(ImportStatus::kFailed);
  j.key_name = r.get<std::string>(4);
  j.header = r.get<std::string>(5);
  j.created_at = r.get<std::int64_t>(6);
  j.finished_at = r.get<std::int64_t>(7);
  j.parts = r.get<std::int64_t>(8);
  j.next_part = r.get<std::int64_t>(9);
  j.counts.rows = r.get<std::int64_t>(10);
  j.counts.added = r.get<std::int64_t>(11);
  j.counts.updated = r.get<std::int64_t>(12);
  j.counts.unchanged = r.get<std::int64_t>(13);
  j.counts.refused = r.get<std::int64_t>(14);
  j.confirms_email = r.get<std::int64_t>(15);
  j.confirms_sms = r.get<std::int64_t>(16);
  j.error = r.get<std::string>(17);
  return j;
}

ImportPart read_part(const Row& r) {
  return ImportPart{r.get<std::int64_t>(0), r.get<std::int64_t>(1), r.get<std::string>(2)};
}

}  // namespace

namespace detail {

std::int64_t SqlImportStore::create(const ImportJob& job, std::int64_t lease_ms) {
  return *st_("imports.create")
              .bind(to_string(job.mode), static_cast<std::int64_t>(job.dry_run ? 1 : 0),
                    job.key_name, job.header, job.created_at, me_.id, lease_ms)
              .value<std::int64_t>();
}

void SqlImportStore::add_part(std::int64_t id, const ImportPart& part) {
  st_("imports.add_part").bind(id, part.seq, part.first_line, part.data).exec();
}

bool SqlImportStore::renew(std::int64_t id, std::int64_t lease_ms) {
  return st_("imports.renew").bind(id, me_.id, lease_ms).value<std::int64_t>().has_value();
}

bool SqlImportStore::start(std::int64_t id, std::int64_t parts) {
  return st_("imports.start").bind(id, parts).value<std::int64_t>().has_value();
}

void SqlImportStore::drop(std::int64_t id) {
  st_("imports.drop_parts").bind(id).exec();
  st_("imports.drop_rows").bind(id).exec();
  st_("imports.drop").bind(id).exec();
}

std::vector<std::int64_t> SqlImportStore::stale_uploads() {
  return st_("imports.stale_uploads").all([](const Row& r) { return r.get<std::int64_t>(0); });
}

void SqlImportStore::release_own(std::int64_t now) {
  st_("outbox.register_instance").bind(me_.id, me_.name, now).exec();
  st_("imports.release_own").bind(me_.name).exec();
}

std::optional<ImportJob> SqlImportStore::claim(std::int64_t lease_ms) {
  return st_("imports.claim").bind(me_.id, lease_ms).one(read_job);
}

std::optional<ImportJob> SqlImportStore::job(std::int64_t id) {
  return st_("imports.by_id").bind(id).one(read_job);
}

bool SqlImportStore::progress(std::int64_t id, std::int64_t seq, const ImportCounts& c,
                              std::int64_t confirms_email, std::int64_t confirms_sms,
                              std::int64_t lease_ms) {
  return st_("imports.progress")
      .bind(id, me_.id, seq, c.rows, c.added, c.updated, c.unchanged, c.refused, confirms_email,
            confirms_sms, lease_ms)
      .value<std::int64_t>()
      .has_value();
}

void SqlImportStore::add_rows(std::int64_t id, const std::vector<ImportRowVerdict>& rows) {
  for (const auto& r : rows) st_("imports.add_row").bind(id, r.line, r.verdict, r.reason).exec();
}

bool SqlImportStore::finish(std::int64_t id, ImportStatus status, std::int64_t at,
                            std::string_view error) {
  const bool mine = st_("imports.finish")
                        .bind(id, std::string(to_string(status)), at, std::string(error), me_.id)
                        .value<std::int64_t>()
                        .has_value();
  if (mine) st_("imports.drop_parts").bind(id).exec();
  return mine;
}

}  // namespace detail

std::optional<ImportJob> ReadPool::import_job(std::int64_t id) {
  auto l = impl_->lease();
  return l("imports.by_id").bind(id).one(read_job);
}

std::optional<ImportPart> ReadPool::import_part(std::int64_t id, std::int64_t seq) {
  auto l = impl_->lease();
  return l("imports.part").bind(id, seq).one(read_part);
}

std::vector<ImportRowVerdict> ReadPool::import_rows(std::int64_t id, std::int64_t after,
                                                    int limit) {
  auto l = impl_->lease();
  return l("imports.rows").bind(id, after, static_cast<std::int64_t>(limit)).all([](const Row& r) {
    return ImportRowVerdict{r.get<std::int64_t>(0), r.get<std::string>(1), r.get<std::string>(2)};
  });
}

}  // namespace sc::storage

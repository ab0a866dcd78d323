#include "contract/backends.h"

#include "support/db_inspect.h"
#include "support/pg_cluster.h"

namespace sc::contract {

std::string PostgresBackend::fresh_database() {
  static const std::string kTemplate = testing::PgCluster::shared().create_template(
      "sc_contract", [](const std::string& url) { storage::migrate(url); });
  return testing::PgCluster::shared().create_database_from_template(kTemplate);
}

std::optional<OutboxRowView> StoredBackend::outbox_row(std::int64_t id) {
  for (const auto& r : db_inspect::outbox_rows(location_, id - 1, 1)) {
    if (r.id != id) continue;
    OutboxRowView v;
    v.id = r.id;
    v.state = r.state;
    v.provider = r.provider;
    v.provider_message_id = r.provider_message_id;
    v.last_code = r.last_code;
    v.last_error = r.last_error;
    v.attempts = r.attempts;
    v.next_attempt_at = r.next_attempt_at;
    const auto where = " FROM outbox WHERE id = " + std::to_string(id);
    v.wait_reason = db_inspect::query_value(location_, "SELECT wait_reason" + where);
    v.lane = db_inspect::query_value(location_, "SELECT lane" + where) == "1"
                 ? OutboxLane::kBulk
                 : OutboxLane::kTransactional;
    v.handed_over =
        db_inspect::query_value(location_,
                                "SELECT CASE WHEN state = 'sending' AND lease_until >= 0 "
                                "THEN 1 ELSE 0 END" +
                                    where) == "1";
    return v;
  }
  return std::nullopt;
}

// The triggers live in the schema and fire on any connection; the writer
// has no raw-SQL API, so these try on a connection of their own.
bool StoredBackend::update_consent_log() {
  db_inspect::exec(location_, "UPDATE consent_log SET ip = '0.0.0.0'");
  return true;
}
bool StoredBackend::delete_consent_log() {
  db_inspect::exec(location_, "DELETE FROM consent_log");
  return true;
}
bool StoredBackend::update_audit_log() {
  db_inspect::exec(location_, "UPDATE audit_log SET key_name = 'someone else'");
  return true;
}
bool StoredBackend::run_sql(const std::string& sql) {
  db_inspect::exec(location_, sql);
  return true;
}
bool StoredBackend::delete_audit_log() {
  db_inspect::exec(location_, "DELETE FROM audit_log");
  return true;
}

}  // namespace sc::contract

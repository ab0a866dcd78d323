#include "support/db_inspect.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>

namespace sc::db_inspect {

namespace {
constexpr int kBusyTimeoutMs = 5000;

SQLite::Database open_read_only(const std::string& db_path) {
  return SQLite::Database(db_path, SQLite::OPEN_READONLY, kBusyTimeoutMs);
}
}  // namespace

OutboxCounts outbox_counts(const std::string& db_path) {
  auto db = open_read_only(db_path);
  SQLite::Statement q(db, "SELECT state, COUNT(*) FROM outbox GROUP BY state");
  OutboxCounts c;
  while (q.executeStep()) {
    const auto s = q.getColumn(0).getString();
    const auto n = q.getColumn(1).getInt64();
    if (s == "queued") c.queued = n;
    if (s == "sending") c.sending = n;
    if (s == "sent") c.sent = n;
    if (s == "failed") c.failed = n;
    if (s == "skipped") c.skipped = n;
  }
  return c;
}

std::vector<OutboxRow> outbox_rows(const std::string& db_path, std::int64_t after_id, int limit) {
  auto db = open_read_only(db_path);
  SQLite::Statement q(
      db,
      "SELECT id, kind, purpose, state, COALESCE(provider,''), COALESCE(provider_message_id,''),"
      " COALESCE(last_code,''), COALESCE(last_error,''), payload, attempts, channel_id, "
      "next_attempt_at"
      " FROM outbox WHERE id > ? ORDER BY id LIMIT ?");
  q.bind(1, static_cast<int64_t>(after_id));
  q.bind(2, limit);
  std::vector<OutboxRow> out;
  while (q.executeStep()) {
    OutboxRow r;
    r.id = q.getColumn(0).getInt64();
    r.kind = q.getColumn(1).getString();
    r.purpose = q.getColumn(2).getString();
    r.state = q.getColumn(3).getString();
    r.provider = q.getColumn(4).getString();
    r.provider_message_id = q.getColumn(5).getString();
    r.last_code = q.getColumn(6).getString();
    r.last_error = q.getColumn(7).getString();
    r.payload = q.getColumn(8).getString();
    r.attempts = q.getColumn(9).getInt();
    r.channel_id = q.getColumn(10).getInt64();
    r.next_attempt_at = q.getColumn(11).getInt64();
    out.push_back(std::move(r));
  }
  return out;
}

std::int64_t count(const std::string& db_path, const std::string& table) {
  bool ok = !table.empty();
  for (char ch : table)
    ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
  if (!ok) throw std::invalid_argument("not a table name: " + table);
  auto db = open_read_only(db_path);
  return db.execAndGet("SELECT COUNT(*) FROM \"" + table + "\"").getInt64();
}

std::string query_value(const std::string& db_path, const std::string& sql) {
  auto db = open_read_only(db_path);
  SQLite::Statement q(db, sql);
  if (!q.executeStep() || q.getColumn(0).isNull()) return {};
  return q.getColumn(0).getString();
}

void exec(const std::string& db_path, const std::string& sql) {
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE, kBusyTimeoutMs);
  db.exec(sql);
}

}  // namespace sc::db_inspect

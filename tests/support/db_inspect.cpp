#include "support/db_inspect.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>

namespace sc::db_inspect {

namespace {
constexpr int kBusyTimeoutMs = 5000;

using Value = std::optional<std::string>;
using Rows = std::vector<std::vector<Value>>;

bool is_postgres(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

struct PgFree {
  void operator()(PGconn* c) const { PQfinish(c); }
  void operator()(PGresult* r) const { PQclear(r); }
};

// Runs `sql` on a connection of its own: the rows as text (NULL: nullopt).
// Throws std::runtime_error with the database's message (a trigger's refusal).
Rows run(const std::string& location, const std::string& sql, bool write) {
  Rows out;
  if (is_postgres(location)) {
    std::unique_ptr<PGconn, PgFree> c(PQconnectdb(location.c_str()));
    if (PQstatus(c.get()) != CONNECTION_OK)
      throw std::runtime_error(std::string("connect: ") + PQerrorMessage(c.get()));
    std::unique_ptr<PGresult, PgFree> r(PQexec(c.get(), sql.c_str()));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
      throw std::runtime_error(PQresultErrorMessage(r.get()));
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      auto& row = out.emplace_back();
      for (int j = 0; j < PQnfields(r.get()); ++j)
        row.push_back(PQgetisnull(r.get(), i, j) ? Value() : Value(PQgetvalue(r.get(), i, j)));
    }
    return out;
  }
  SQLite::Database db(location, write ? SQLite::OPEN_READWRITE : SQLite::OPEN_READONLY,
                      kBusyTimeoutMs);
  if (write) {
    db.exec(sql);
    return out;
  }
  SQLite::Statement q(db, sql);
  while (q.executeStep()) {
    auto& row = out.emplace_back();
    for (int j = 0; j < q.getColumnCount(); ++j)
      row.push_back(q.getColumn(j).isNull() ? Value() : Value(q.getColumn(j).getString()));
  }
  return out;
}

std::string text(const Value& v) { return v.value_or(""); }
std::int64_t number(const Value& v) { return v ? std::stoll(*v) : 0; }

}  // namespace

Rows rows(const std::string& db_path, const std::string& sql) { return run(db_path, sql, false); }

OutboxCounts outbox_counts(const std::string& db_path) {
  OutboxCounts c;
  for (const auto& r : run(db_path, "SELECT state, COUNT(*) FROM outbox GROUP BY state", false)) {
    const auto s = text(r[0]);
    const auto n = number(r[1]);
    if (s == "queued") c.queued = n;
    if (s == "sending") c.sending = n;
    if (s == "sent") c.sent = n;
    if (s == "failed") c.failed = n;
    if (s == "skipped") c.skipped = n;
  }
  return c;
}

std::vector<OutboxRow> outbox_rows(const std::string& db_path, std::int64_t after_id, int limit) {
  const auto rows =
      run(db_path,
          "SELECT id, kind, purpose, state, provider, provider_message_id, last_code, last_error,"
          " payload, attempts, channel_id, next_attempt_at FROM outbox WHERE id > " +
              std::to_string(after_id) + " ORDER BY id LIMIT " + std::to_string(limit),
          false);
  std::vector<OutboxRow> out;
  for (const auto& q : rows) {
    OutboxRow r;
    r.id = number(q[0]);
    r.kind = text(q[1]);
    r.purpose = text(q[2]);
    r.state = text(q[3]);
    r.provider = text(q[4]);
    r.provider_message_id = text(q[5]);
    r.last_code = text(q[6]);
    r.last_error = text(q[7]);
    r.payload = text(q[8]);
    r.attempts = static_cast<int>(number(q[9]));
    r.channel_id = number(q[10]);
    r.next_attempt_at = number(q[11]);
    out.push_back(std::move(r));
  }
  return out;
}

std::int64_t count(const std::string& db_path, const std::string& table) {
  bool ok = !table.empty();
  for (char ch : table)
    ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
  if (!ok) throw std::invalid_argument("not a table name: " + table);
  return number(run(db_path, "SELECT COUNT(*) FROM \"" + table + "\"", false).at(0).at(0));
}

std::vector<std::string> column(const std::string& db_path, const std::string& sql) {
  std::vector<std::string> out;
  for (const auto& r : run(db_path, sql, false)) out.push_back(r.empty() ? "" : text(r[0]));
  return out;
}

std::string query_value(const std::string& db_path, const std::string& sql) {
  const auto rows = run(db_path, sql, false);
  if (rows.empty() || rows[0].empty()) return {};
  return text(rows[0][0]);
}

void exec(const std::string& db_path, const std::string& sql) { run(db_path, sql, true); }

}  // namespace sc::db_inspect

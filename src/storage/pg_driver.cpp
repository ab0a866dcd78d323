// The PostgreSQL driver (driver.h) over libpq. Statements are prepared once
// per connection under their query name and run with text parameters; a
// result is read whole (the statements of this service return pages, never
// unbounded sets).
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "driver.h"
#include "sc/storage/storage.h"

namespace sc::storage::detail {

namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

std::string sqlstate_of(const PGresult* r) {
  const char* s = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s != nullptr ? s : "";
}

// One line: libpq's messages end in a newline and may add DETAIL lines.
std::string first_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

// Throws DbError unless `r` is a success.
Result checked(PGconn* conn, PGresult* raw, std::string_view what) {
  Result r(raw);
  const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  const char* msg = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn);
  // 08xxx: the connection is gone (libpq reports no code for a dropped socket).
  std::string code = sqlstate_of(r.get());
  if (code.empty() && PQstatus(conn) == CONNECTION_BAD) code = "08006";
  throw DbError(std::string(what) + ": " + first_line(msg), code);
}

class PgStatement final : public Statement {
 public:
  PgStatement(PGconn* conn, std::string name, const std::string& sql)
      : conn_(conn), name_(std::move(name)) {
    checked(conn_, PQprepare(conn_, name_.c_str(), sql.c_str(), 0, nullptr), name_);
    Result d = checked(conn_, PQdescribePrepared(conn_, name_.c_str()), name_);
    params_.resize(static_cast<std::size_t>(PQnparams(d.get())));
  }
  void clear() override {
    result_.reset();
    for (auto& p : params_) p.reset();
  }
  void bind_null(int i) override { param(i).reset(); }
  void bind_int64(int i, std::int64_t v) override { param(i) = std::to_string(v); }
  void bind_text(int i, std::string_view v) override { param(i) = std::string(v); }
  bool step() override {
    if (!result_) run();
    return ++row_ < PQntuples(result_.get());
  }
  int exec() override {
    run();
    const char* n = PQcmdTuples(result_.get());
    return n != nullptr && *n != '\0' ? std::atoi(n) : 0;
  }
  void reset() noexcept override { result_.reset(); }
  bool is_null(int col) const override { return PQgetisnull(result_.get(), row_, col) != 0; }
  std::int64_t int64_at(int col) const override {
    const char* v = PQgetvalue(result_.get(), row_, col);
    if (v[0] == 't' && v[1] == '\0') return 1;  // boolean
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return std::strtoll(v, nullptr, 10);
  }
  std::string text_at(int col) const override {
    return std::string(PQgetvalue(result_.get(), row_, col),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row_, col)));
  }

 private:
  std::optional<std::string>& param(int i) {
    if (i < 1 || static_cast<std::size_t>(i) > params_.size())
      throw std::logic_error(name_ + ": no parameter $" + std::to_string(i));
    return params_[static_cast<std::size_t>(i - 1)];
  }
  void run() {
    std::vector<const char*> values(params_.size());
    std::vector<int> lengths(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      values[i] = params_[i] ? params_[i]->c_str() : nullptr;
      lengths[i] = params_[i] ? static_cast<int>(params_[i]->size()) : 0;
    }
    result_ = checked(conn_,
                      PQexecPrepared(conn_, name_.c_str(), static_cast<int>(values.size()),
                                     values.data(), lengths.data(), nullptr, 0),
                      name_);
    row_ = -1;
  }

  PGconn* conn_;
  std::string name_;
  std::vector<std::optional<std::string>> params_;
  Result result_;
  int row_ = -1;
};

// The bound of one reconnect attempt (PgConnection::reconnect), seconds.
constexpr int kReconnectSeconds = 2;

// The URL's connect_timeout (seconds), 10 when it has none.
int connect_timeout_of(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  int seconds = 10;
  for (auto* o = opts; o != nullptr && o->keyword != nullptr; ++o)
    if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val != nullptr && *o->val != '\0')
      seconds = std::max(1, std::atoi(o->val));
  if (opts != nullptr) PQconninfoFree(opts);
  return seconds;
}

class PgConnection final : public Connection {
 public:
  explicit PgConnection(std::string url) : url_(std::move(url)) { open(true); }
  ~PgConnection() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }
  Dialect dialect() const override { return Dialect::kPostgres; }
  const QueryRegistry& queries() const override { return QueryRegistry::postgres(); }
  std::unique_ptr<Statement> prepare(std::string_view name, const std::string& sql) override {
    return std::make_unique<PgStatement>(conn_, std::string(name), sql);
  }
  void execute_script(const std::string& sql) override {
    checked(conn_, PQexec(conn_, sql.c_str()), "script");
  }
  bool in_transaction() override { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }
  // An idle connection also reads what the server sent meanwhile (without
  // waiting): a server that shut down or terminated this session has said
  // so and closed the socket, which makes the connection bad here rather
  // than on the next statement, and a request with it.
  bool lost() override {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK &&
        PQtransactionStatus(conn_) == PQTRANS_IDLE)
      PQconsumeInput(conn_);
    return PQstatus(conn_) == CONNECTION_BAD;
  }
  // One attempt, bounded by kReconnectSeconds: the writer thread and a
  // request's read wait here, so while the server is away they fail at once
  // (503, Retry-After) instead of waiting the URL's connect_timeout; the
  // next batch or lease tries again.
  void reconnect() override {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    ++generation_;
    open(false);
  }
  std::uint64_t generation() const override { return generation_; }
  void copy_in(std::string_view name, const std::string& sql,
               const std::function<bool(std::string&)>& fill) override {
    const std::string what(name);
    Result started(PQexec(conn_, sql.c_str()));
    if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
      checked(conn_, started.release(), what);  // throws when the server refused it
      throw DbError(what + ": not a COPY ... FROM STDIN", "");
    }
    std::string chunk;
    try {
      for (bool more = true; more;) {
        chunk.clear();
        more = fill(chunk);
        if (!chunk.empty() &&
            PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1)
          throw DbError(what + ": " + first_line(PQerrorMessage(conn_)), "08006");
      }
    } catch (...) {
      // The server drops what it got; the COPY's result says so, and is read
      // here so the connection is ready for the ROLLBACK.
      PQputCopyEnd(conn_, "aborted by the client");
      while (Result r{PQgetResult(conn_)}) {
      }
      throw;
    }
    if (PQputCopyEnd(conn_, nullptr) != 1)
      throw DbError(what + ": " + first_line(PQerrorMessage(conn_)), "08006");
    Result last;
    while (Result r{PQgetResult(conn_)}) last = std::move(r);
    checked(conn_, last.release(), what);
  }
  // Dead row versions stay until VACUUM (autovacuum) reclaims them.
  void drop_old_versions() override {}
  bool conflict(const std::exception& e) const override {
    const auto* db = dynamic_cast<const DbError*>(&e);
    if (db == nullptr) return false;
    // serialization_failure, deadlock_detected, unique_violation
    return db->sqlstate() == "40001" || db->sqlstate() == "40P01" || db->sqlstate() == "23505";
  }
  bool deadlock(const std::exception& e) const override {
    const auto* db = dynamic_cast<const DbError*>(&e);
    return db != nullptr && db->sqlstate() == "40P01";
  }
  std::string failure_reason(const std::exception& e) const override {
    const auto* db = dynamic_cast<const DbError*>(&e);
    const std::string code = db != nullptr ? db->sqlstate() : "";
    if (code == "08001") return "cannot connect to the database";
    if (code.starts_with("08")) return "connection to the database lost";
    if (code == "53100") return "database disk is full";
    if (code.starts_with("53")) return "database out of resources (SQLSTATE " + code + ")";
    if (code.starts_with("57P"))
      return "database shutting down or starting (SQLSTATE " + code + ")";
    if (code == "25006") return "database is read-only";
    return code.empty() ? "write failed" : "write failed (SQLSTATE " + code + ")";
  }

 private:
  // Patient (the first open): tries until the URL's connect_timeout has
  // passed, so a server that is starting (or restarting) is waited for
  // within that bound. Otherwise (reconnect()) one attempt of at most
  // kReconnectSeconds.
  void open(bool patient) {
    const int timeout = connect_timeout_of(url_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
    const std::string attempt_timeout = std::to_string(std::min(timeout, kReconnectSeconds));
    // The URL first, then connect_timeout: a later keyword wins (libpq).
    const char* keys[] = {"dbname", "connect_timeout", nullptr};
    const char* values[] = {url_.c_str(), patient ? nullptr : attempt_timeout.c_str(), nullptr};
    std::string last;
    while (true) {
      conn_ = PQconnectdbParams(keys, values, 1);
      if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) break;
      last = first_line(conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory");
      if (conn_ != nullptr) PQfinish(conn_);
      conn_ = nullptr;
      if (!patient || std::chrono::steady_clock::now() >= deadline)
        throw DbError("cannot connect: " + last, "08001");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    // Notices ("relation already exists, skipping") are not errors; libpq
    // would print each on stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    const auto& q = queries();
    execute_script(q.sql("connection.synchronous_on"));
    execute_script(q.sql("connection.utc"));
    execute_script(q.sql("connection.custom_plans"));
  }

  std::string url_;
  PGconn* conn_ = nullptr;
  std::uint64_t generation_ = 0;
};

}  // namespace

std::unique_ptr<Connection> connect_postgres(const std::string& url) {
  try {
    return std::make_unique<PgConnection>(url);
  } catch (const std::exception& e) {
    throw StorageError("cannot open database " + redact(url) + ": " + e.what());
  }
}

}  // namespace sc::storage::detail

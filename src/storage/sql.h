// Internal to storage: the one way SQL runs. A statement is asked for by its
// name (schema/queries/, see queries.h), prepared once per connection and
// kept with it; arguments bind by overload, rows read by type:
//   st("outbox.mark_retry").bind(due, code, error, id).exec();
//   auto row = st("subscribers.by_id").bind(id).one<std::int64_t, std::string>();
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "driver.h"
#include "queries.h"

namespace sc::storage::detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

// The current row of a running query.
class Row {
 public:
  explicit Row(const Statement& s) : s_(s) {}
  // Column i (from 0) as T: std::int64_t, int, bool, std::string (NULL reads
  // as 0, false or ""), or std::optional of one of them (NULL reads as nullopt).
  template <class T>
  T get(int i) const {
    if constexpr (IsOptional<T>::value) {
      if (s_.is_null(i)) return std::nullopt;
      return get<typename T::value_type>(i);
    } else if constexpr (std::is_same_v<T, std::string>) {
      return s_.is_null(i) ? std::string() : s_.text_at(i);
    } else if constexpr (std::is_same_v<T, bool>) {
      return !s_.is_null(i) && s_.int64_at(i) != 0;
    } else if constexpr (std::is_same_v<T, int>) {
      return s_.is_null(i) ? 0 : static_cast<int>(s_.int64_at(i));
    } else {
      static_assert(std::is_same_v<T, std::int64_t>, "a column reads as int64, int, bool, string");
      return s_.is_null(i) ? 0 : s_.int64_at(i);
    }
  }
  template <class... T>
  std::tuple<T...> tuple() const {
    return tuple_of<T...>(std::index_sequence_for<T...>{});
  }

 private:
  template <class... T, std::size_t... I>
  std::tuple<T...> tuple_of(std::index_sequence<I...>) const {
    return std::tuple<T...>(get<T>(static_cast<int>(I))...);
  }
  const Statement& s_;
};

// A prepared statement, reset and cleared, ready to bind and run once.
class Query {
 public:
  explicit Query(Statement& s) : s_(s) {}

  // Binds the arguments to ?1, ?2, ... in order.
  template <class... A>
  Query& bind(const A&... args) {
    int i = 0;
    (bind_one(++i, args), ...);
    return *this;
  }
  // Runs a statement that returns no rows; returns the rows it changed.
  int exec() { return s_.exec(); }
  // The first row (the statement is reset after it), or nullopt.
  template <class... T>
  std::optional<std::tuple<T...>> one() {
    return one([](const Row& r) { return r.tuple<T...>(); });
  }
  // The first row's first column, or nullopt when there is no row.
  template <class T>
  std::optional<T> value() {
    return one([](const Row& r) { return r.get<T>(0); });
  }
  template <class F>
  auto one(F&& read) -> std::optional<std::invoke_result_t<F&, const Row&>> {
    std::optional<std::invoke_result_t<F&, const Row&>> out;
    if (s_.step()) out.emplace(read(Row(s_)));
    // Reset now: a statement left mid-result keeps its read snapshot open.
    s_.reset();
    return out;
  }
  // Every row, each as a tuple or through `read`.
  template <class... T>
  std::vector<std::tuple<T...>> all() {
    return all([](const Row& r) { return r.tuple<T...>(); });
  }
  template <class F>
  auto all(F&& read) -> std::vector<std::invoke_result_t<F&, const Row&>> {
    std::vector<std::invoke_result_t<F&, const Row&>> out;
    while (s_.step()) out.push_back(read(Row(s_)));
    return out;
  }
  // Calls fn(const Row&) for every row.
  template <class F>
  void each(F&& fn) {
    while (s_.step()) fn(Row(s_));
  }

 private:
  void bind_one(int i, std::nullptr_t) { s_.bind_null(i); }
  void bind_one(int i, int v) { s_.bind_int64(i, v); }
  void bind_one(int i, bool v) { s_.bind_int64(i, v ? 1 : 0); }
  void bind_one(int i, std::int64_t v) { s_.bind_int64(i, v); }
  void bind_one(int i, const std::string& v) { s_.bind_text(i, v); }
  void bind_one(int i, std::string_view v) { s_.bind_text(i, v); }
  void bind_one(int i, const char* v) { s_.bind_text(i, v); }
  template <class T>
  void bind_one(int i, const std::optional<T>& v) {
    if (v)
      bind_one(i, *v);
    else
      s_.bind_null(i);
  }
  Statement& s_;
};

// The prepared statements of one connection, by query name. A Statement is
// never shared between connections; each connection keeps its own (and
// prepares them again after the connection was opened again).
class Statements {
 public:
  explicit Statements(Connection& db) : Statements(db, db.queries()) {}
  Statements(Connection& db, const QueryRegistry& queries) : db_(db), queries_(queries) {}
  // The statement named `name`, prepared on first use (std::logic_error for
  // a name schema/queries does not have).
  Query operator()(std::string_view name);
  // Resets every statement. A SELECT left mid-result keeps the connection's
  // read snapshot open past COMMIT; the next BEGIN IMMEDIATE then fails with
  // SQLITE_BUSY_SNAPSHOT once any other connection has written, and would
  // keep failing. The writer calls it after every batch, the read pool
  // before a connection goes back idle.
  void reset_all() noexcept;
  Connection& db() { return db_; }

 private:
  Connection& db_;
  const QueryRegistry& queries_;
  std::uint64_t generation_ = 0;  // of db_ when the cached statements were prepared
  // Keyed by the registry's copy of the name, which outlives this cache.
  std::unordered_map<std::string_view, std::unique_ptr<Statement>> cache_;
};

// BEGIN (IMMEDIATE under SQLite) ... COMMIT on one connection, outside the
// writer's group commit (migrations, the key commands); rolled back unless
// committed.
class Transaction {
 public:
  explicit Transaction(Statements& st) : st_(st) { st_("writer.begin").exec(); }
  ~Transaction() {
    if (done_) return;
    try {
      st_.reset_all();
      if (!st_.db().lost() && st_.db().in_transaction()) st_("writer.rollback").exec();
    } catch (...) {
      // the connection went away: nothing of the transaction stays
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    st_.reset_all();
    st_("writer.commit").exec();
    done_ = true;
  }

 private:
  Statements& st_;
  bool done_ = false;
};

}  // namespace sc::storage::detail

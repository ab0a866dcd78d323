// Internal to storage: the read pool's connections (read_pool.cpp and
// broadcast_store.cpp both serve reads from it). Each connection keeps its
// own prepared statements, so a read prepares each query once per connection.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "driver.h"
#include "sc/storage/storage.h"
#include "sql.h"

namespace sc::storage {

struct ReadPool::Impl {
  struct Connection {
    explicit Connection(std::unique_ptr<detail::Connection> d) : db(std::move(d)), st(*db) {}
    std::unique_ptr<detail::Connection> db;
    detail::Statements st;  // over *db, destroyed before it
  };
  std::string path;
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;

  // A connection borrowed for one call and handed back after it.
  struct Lease {
    Impl& pool;
    std::unique_ptr<Connection> c;
    detail::Query operator()(std::string_view name) { return c->st(name); }
    ~Lease() {
      // No statement of an idle connection keeps a read snapshot open (it
      // would hold back the WAL's checkpoints).
      c->st.reset_all();
      std::lock_guard lk(pool.mu);
      pool.idle.push_back(std::move(c));
    }
  };
  Lease lease() {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard lk(mu);
      if (!idle.empty()) {
        c = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!c)
      return Lease{*this,
                   std::make_unique<Connection>(detail::connect(path, detail::Mode::kReader))};
    // A connection the server dropped (PostgreSQL restarted) opens again
    // here, outside the lock; its statements are prepared again on first
    // use. While the server stays away the attempt fails at once and the
    // connection goes back idle, to be tried again by the next lease.
    if (c->db->lost()) {
      try {
        c->db->reconnect();
      } catch (...) {
        std::lock_guard lk(mu);
        idle.push_back(std::move(c));
        throw;
      }
    }
    return Lease{*this, std::move(c)};
  }
};

}  // namespace sc::storage

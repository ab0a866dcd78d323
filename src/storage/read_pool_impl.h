// Internal to storage: the read pool's connections (read_pool.cpp and
// broadcast_store.cpp both serve reads from it).
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connection.h"
#include "sc/storage/storage.h"

namespace sc::storage {

struct ReadPool::Impl {
  std::string path;
  std::mutex mu;
  std::vector<std::unique_ptr<SQLite::Database>> idle;

  // A connection borrowed for one call and handed back after it.
  struct Lease {
    Impl& pool;
    std::unique_ptr<SQLite::Database> db;
    ~Lease() {
      std::lock_guard lk(pool.mu);
      pool.idle.push_back(std::move(db));
    }
  };
  Lease lease() {
    {
      std::lock_guard lk(mu);
      if (!idle.empty()) {
        auto db = std::move(idle.back());
        idle.pop_back();
        return Lease{*this, std::move(db)};
      }
    }
    return Lease{*this, detail::open(path, detail::Mode::kReader)};
  }
};

}  // namespace sc::storage

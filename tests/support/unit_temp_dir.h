// Unit-test helpers: a self-cleaning temp directory and a bounded poll.
// (Namespace sc::unit, apart from the integration helpers in sc::testing.)
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace sc::unit {

// A fresh directory under the system temp dir, removed with its contents at
// scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Polls cond until it holds or timeout passes; never a blind sleep.
bool wait_for(const std::function<bool()>& cond,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace sc::unit

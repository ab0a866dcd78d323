// TempDir: a fresh directory under the system temp dir for one test, removed
// with its contents at scope exit. The one temp-directory helper of every
// test (unit, provider and integration).
#pragma once
#include <filesystem>
#include <string>

namespace sc::testing {

class TempDir {
 public:
  TempDir();  // throws std::runtime_error when no directory can be made
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of a child (or of the directory itself) as a string.
  std::string str(const std::string& child = {}) const {
    return child.empty() ? path_.string() : (path_ / child).string();
  }
  std::filesystem::path operator/(const std::string& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

}  // namespace sc::testing

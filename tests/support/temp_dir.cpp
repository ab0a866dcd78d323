#include "support/temp_dir.h"

#include <stdlib.h>

#include <stdexcept>
#include <system_error>
#include <vector>

namespace sc::testing {

TempDir::TempDir() {
  auto tmpl = (std::filesystem::temp_directory_path() / "sc-test-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sc::testing

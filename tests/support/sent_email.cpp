#include "support/sent_email.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <utility>

namespace sc::testing {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string decode_quoted_printable(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 1 < s.size()) {
      if (s[i + 1] == '\r' && i + 2 < s.size() && s[i + 2] == '\n') {
        i += 2;
        continue;
      }
      if (s[i + 1] == '\n') {
        i += 1;
        continue;
      }
      if (i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::vector<std::string> read_eml_files(const std::string& dir) {
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    // ".tmp-….eml" is a message the file provider is still writing (it is
    // renamed into place when complete, and may be gone by the next call).
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".eml" || name.rfind('.', 0) == 0) continue;
    std::error_code time_ec;
    const auto t = fs::last_write_time(e.path(), time_ec);
    if (!time_ec) files.emplace_back(t, e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& [t, p] : files) out.push_back(slurp(p));
  return out;
}

std::optional<std::string> find_link(const std::string& decoded, const std::string& path_prefix) {
  std::regex re("https?://[^/\\s\"<>]+(" + path_prefix + "[A-Za-z0-9._-]+)");
  std::smatch m;
  if (std::regex_search(decoded, m, re)) return m[1].str();
  return std::nullopt;
}

}  // namespace sc::testing

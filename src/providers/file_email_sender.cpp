#include "sc/providers/file_email_sender.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>

#include "sc/providers/crypto.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

// File names keep only characters that are safe on every filesystem; the
// message id is already unique, this only stops "/" or ".." from escaping.
std::string safe_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@' || c == '+';
    out += ok ? c : '_';
  }
  if (out.size() > 150) out.resize(150);
  while (!out.empty() && out.front() == '.') out.erase(0, 1);
  return out;
}

std::string message_id_of(const std::string& mime) {
  auto pos = mime.find("\r\nMessage-ID: <");
  if (pos == std::string::npos) return {};
  pos += 15;
  auto end = mime.find('>', pos);
  return end == std::string::npos ? std::string{} : mime.substr(pos, end - pos);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

FileEmailSender::FileEmailSender(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::filesystem::path FileEmailSender::path_for(const OutboundEmail& message) const {
  std::string id = safe_name(message.message_id);
  return dir_ / (std::to_string(message.outbox_id) + "-" + (id.empty() ? "message" : id) + ".eml");
}

SendResult FileEmailSender::send(const OutboundEmail& message) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return SendResult::retryable("io", "create " + dir_.string() + ": " + ec.message());

  std::string mime = build_mime(message);
  std::filesystem::path target = path_for(message);
  // A unique temp name in the same directory, so rename() is atomic and two
  // writers of the same message never share a temp file.
  std::filesystem::path tmp = dir_ / (".tmp-" + crypto::hex(crypto::random_bytes(8)) + ".eml");
  // 0600: the file holds personal data and live links. O_EXCL|O_NOFOLLOW: a
  // planted file or symlink at the temp name is refused, never written through;
  // rename() then replaces whatever is at the target, a symlink included.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return SendResult::retryable("io", "open " + tmp.string() + ": " + std::strerror(errno));
  bool ok = write_all(fd, mime);
  int saved = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return SendResult::retryable("io", "write " + tmp.string() + ": " + std::strerror(saved));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    saved = errno;
    ::unlink(tmp.c_str());
    return SendResult::retryable("io",
                                 "rename to " + target.string() + ": " + std::strerror(saved));
  }
  return SendResult::sent("file", message_id_of(mime), target.string());
}

void FileEmailSender::forget(std::string_view, std::span<const std::int64_t> outbox_ids) {
  if (outbox_ids.empty()) return;
  std::set<std::string> prefixes;
  for (auto id : outbox_ids) prefixes.insert(std::to_string(id) + "-");
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto dash = name.find('-');
    if (dash == std::string::npos || !name.ends_with(".eml")) continue;
    if (prefixes.contains(name.substr(0, dash + 1))) std::filesystem::remove(it->path(), ec);
  }
}

}  // namespace sc::providers

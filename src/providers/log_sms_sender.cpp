#include "sc/providers/log_sms_sender.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

namespace sc::providers {
namespace {

std::string iso8601(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

LogSmsSender::LogSmsSender(std::filesystem::path file, std::function<std::int64_t()> now_unix)
    : file_(std::move(file)), now_unix_(std::move(now_unix)) {
  if (!now_unix_) now_unix_ = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
}

LogSmsSender::~LogSmsSender() {
  if (out_ != nullptr) std::fclose(out_);
}

SendResult LogSmsSender::send(const OutboundSms& message) {
  // error_handler::replace: a body with broken UTF-8 is still logged, never thrown on.
  nlohmann::json line = {{"ts", iso8601(now_unix_())},
                         {"outbox_id", message.outbox_id},
                         {"to", message.to},
                         {"body", message.body}};
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';

  std::lock_guard lock(mu_);
  if (out_ == nullptr) {
    std::error_code ec;
    if (file_.has_parent_path()) std::filesystem::create_directories(file_.parent_path(), ec);
    if (ec)
      return SendResult::retryable("io",
                                   "create " + file_.parent_path().string() + ": " + ec.message());
    // 0600 and O_NOFOLLOW: the log holds phone numbers and confirmation texts,
    // and a symlink planted at its path must not make us append elsewhere.
    int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      out_ = ::fdopen(fd, "a");
      if (out_ == nullptr) ::close(fd);
    }
    if (out_ == nullptr)
      return SendResult::retryable("io", "open " + file_.string() + ": " + std::strerror(errno));
  }
  // One fwrite of the whole line; the file is opened O_APPEND so lines from
  // several processes never interleave mid-line.
  if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0) {
    std::string err = std::strerror(errno);
    std::fclose(out_);
    out_ = nullptr;  // reopen next time (the file may have been rotated or the disk freed)
    return SendResult::retryable("io", "write " + file_.string() + ": " + err);
  }
  return SendResult::sent("log", "log-" + std::to_string(message.outbox_id));
}

void LogSmsSender::forget(std::string_view number, std::span<const std::int64_t> outbox_ids) {
  const std::set<std::int64_t> ids(outbox_ids.begin(), outbox_ids.end());
  std::lock_guard lock(mu_);
  std::ifstream in(file_);
  if (!in) return;  // nothing was ever logged
  std::string kept;
  bool dropped = false;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    const bool theirs = j.is_object() && ((j.contains("to") && j["to"] == number) ||
                                          (j.contains("outbox_id") && j["outbox_id"].is_number() &&
                                           ids.contains(j["outbox_id"].get<std::int64_t>())));
    if (theirs) {
      dropped = true;
      continue;
    }
    kept += line + "\n";
  }
  in.close();
  if (!dropped) return;
  auto tmp = file_;
  tmp += ".forget";
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return;
    const bool ok = ::write(fd, kept.data(), kept.size()) == static_cast<ssize_t>(kept.size());
    ::close(fd);
    if (!ok) {
      std::filesystem::remove(tmp);
      return;
    }
  }
  if (out_ != nullptr) {
    std::fclose(out_);
    out_ = nullptr;  // reopened on the next send, on the new file
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file_, ec);
}

}  // namespace sc::providers

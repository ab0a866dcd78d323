// LogSmsSender: the `log` SMS provider, one JSON line per text appended to a
// file, for development and tests.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

#include "sc/core/message.h"

namespace sc::providers {

class LogSmsSender final : public SmsSender {
 public:
  // The file (and its directory) is created on first use.
  explicit LogSmsSender(std::filesystem::path file, std::function<std::int64_t()> now_unix = {});
  ~LogSmsSender() override;
  LogSmsSender(const LogSmsSender&) = delete;
  LogSmsSender& operator=(const LogSmsSender&) = delete;
  std::string name() const override { return "log"; }
  // Appends {"ts":"2026-11-28T01:02:03Z","outbox_id":N,"to":"+1…","body":"…"}
  // and flushes; IO errors → kRetryable.
  SendResult send(const OutboundSms& message) override;
  // Rewrites the file without the lines of those messages or to `number`
  // (a temp file renamed over it). Another process appending to the same
  // file meanwhile would keep writing to the old one: the log provider is
  // for one process in development and tests.
  void forget(std::string_view number, std::span<const std::int64_t> outbox_ids) override;

 private:
  std::filesystem::path file_;
  std::function<std::int64_t()> now_unix_;
  std::mutex mu_;
  std::FILE* out_ = nullptr;
};

}  // namespace sc::providers

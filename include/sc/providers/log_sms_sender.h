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

 private:
  std::filesystem::path file_;
  std::function<std::int64_t()> now_unix_;
  std::mutex mu_;
  std::FILE* out_ = nullptr;
};

}  // namespace sc::providers

// ScriptedSender: a fake email or SMS sender for dispatcher tests, answering
// each send from a script and recording what it was asked.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "sc/core/message.h"
#include "sc/core/ports/services.h"

namespace sc::unit {

// Answers each send with script(message, attempt number for that message),
// and records each send_batch call's size and the fake clock at the call.
// Its send_stream is the port's default: windows of up to in_flight messages
// through send_batch, a window's answers when it returns.
template <class Message, class Base>
class ScriptedSender final : public Base {
 public:
  using Script = std::function<SendResult(const Message&, int attempt)>;
  ScriptedSender(std::string name, const Clock& clock, Script script = nullptr)
      : name_(std::move(name)), clock_(clock), script_(std::move(script)) {}
  std::string name() const override { return name_; }
  SendResult send(const Message& m) override {
    std::lock_guard lk(mu_);
    if (!script_) {
      ADD_FAILURE() << name_ << " was asked to send outbox message " << m.outbox_id
                    << " but expects nothing";
      return SendResult::permanent("unexpected", "unexpected send");
    }
    calls.push_back(m);
    call_ms.push_back(clock_.now_ms());
    auto r = script_(m, ++attempts[m.outbox_id]);
    if (r.status == SendStatus::kSent) ++sent[m.outbox_id];
    return r;
  }
  std::vector<SendResult> send_batch(std::span<const Message> ms) override {
    {
      std::lock_guard lk(mu_);
      batch_sizes.push_back(ms.size());
    }
    return Base::send_batch(ms);
  }
  // Windows of up to this many through send_batch (the default send_stream).
  int max_in_flight() const override { return in_flight; }
  int in_flight = 1;
  void set_script(Script s) {
    std::lock_guard lk(mu_);
    script_ = std::move(s);
  }
  std::size_t call_count() {
    std::lock_guard lk(mu_);
    return calls.size();
  }
  std::vector<Message> calls;
  std::vector<std::int64_t> call_ms;
  std::vector<std::size_t> batch_sizes;
  std::map<std::int64_t, int> attempts, sent;

 private:
  std::string name_;
  const Clock& clock_;
  Script script_;
  std::mutex mu_;
};

using FakeEmail = ScriptedSender<OutboundEmail, EmailSender>;
using FakeSms = ScriptedSender<OutboundSms, SmsSender>;

}  // namespace sc::unit

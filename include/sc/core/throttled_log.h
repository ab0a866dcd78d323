// A failure that repeats (every request failing on a full disk) logged at a
// bounded rate: the first of a kind at once, then at most one line per
// interval for that kind, saying how many were left out. A full disk once
// wrote 187,000 identical lines in 20 s, enough to fill a disk on its own.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sc {

class ThrottledLog {
 public:
  using NowMs = std::function<std::int64_t()>;           // a monotonic clock, milliseconds
  using Sink = std::function<void(const std::string&)>;  // writes one line (no newline)

  static std::int64_t steady_now_ms();
  static void write_to_stderr(const std::string& line);

  explicit ThrottledLog(std::int64_t interval_ms = 10'000, NowMs now_ms = steady_now_ms,
                        Sink sink = write_to_stderr);

  // Writes `line`, or counts it when a line of the same `kind` (e.g. the
  // error's text, without what varies per request) went out less than an
  // interval ago. The next line written for that kind ends with
  // " (N more in the last S s)". Thread-safe.
  void log(const std::string& kind, const std::string& line);

 private:
  struct Kind {
    std::int64_t written_ms = 0;  // when the last line of this kind went out
    std::int64_t left_out = 0;    // lines counted since
  };
  void forget_quiet_kinds(std::int64_t now);

  std::int64_t interval_ms_;
  NowMs now_ms_;
  Sink sink_;
  std::mutex mu_;
  std::map<std::string, Kind> kinds_;
};

}  // namespace sc

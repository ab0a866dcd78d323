// wait_for: the one bounded poll of every test. Tests wait on a condition,
// never with a blind sleep, and wait for the very thing they read next (not
// for a counter beside it: a fake's request count can move before its bodies).
#pragma once
#include <chrono>
#include <functional>

namespace sc::testing {

// Polls `cond` until it holds or `timeout` passes; returns its last value.
// The poll starts at 1 ms and backs off to `max_poll` (100 ms), so a quick
// event is seen at once and a long wait does not load the host; a test that
// must catch a short-lived state polls with a smaller max_poll.
bool wait_for(const std::function<bool()>& cond,
              std::chrono::milliseconds timeout = std::chrono::seconds(10),
              std::chrono::milliseconds max_poll = std::chrono::milliseconds(100));

}  // namespace sc::testing

// wait_for: the one bounded poll of every test. Tests wait on a condition,
// never with a blind sleep, and wait for the very thing they read next (not
// for a counter beside it: a fake's request count can move before its bodies).
#pragma once
#include <chrono>
#include <functional>

namespace sc::testing {

// Polls `cond` until it holds or `timeout` passes; returns its last value.
// The poll starts at 1 ms and backs off to 100 ms, so a quick event is seen
// at once and a long wait does not load the host.
bool wait_for(const std::function<bool()>& cond,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace sc::testing

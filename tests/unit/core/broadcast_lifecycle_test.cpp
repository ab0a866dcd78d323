// The broadcast state machine (sc/core/broadcast_lifecycle.h): every action
// from every status, allowed or refused, with the codes and messages the
// admin API answers (tests/unit/http/broadcast_routes_test.cpp shows them
// through the routes), and what applying an action writes to the ports.
#include "sc/core/broadcast_lifecycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace sc {
namespace {

using S = BroadcastStatus;
using A = BroadcastAction;

constexpr std::int64_t kNow = 1'700'000'000;  // 2023-11-14T22:13:20Z

const std::vector<S> kStatuses = {S::kDraft,  S::kScheduled, S::kSending,
                                  S::kPaused, S::kCompleted, S::kCancelled};
const std::vector<A> kActions = {A::kSend,   A::kPause,       A::kResume,
                                 A::kCancel, A::kRetryFailed, A::kRetryUnknown};

Broadcast with(S status, std::int64_t send_at = 0, std::int64_t started_at = 0) {
  Broadcast b;
  b.id = 7;
  b.status = status;
  b.send_at = send_at;
  b.started_at = started_at;
  return b;
}

// What each action from each status must do: the status it moves to ("" for
// none), its reason, or the 409 message it is refused with.
struct Expected {
  std::string to;
  std::string reason;
  std::string refused;
};

std::map<std::pair<A, S>, Expected> table() {
  const auto is = [](S s) { return std::string("this broadcast is ") + to_string(s); };
  std::map<std::pair<A, S>, Expected> t;
  for (auto s : kStatuses) {
    t[{A::kSend, s}] = {"", "", "only a draft can be sent; " + is(s)};
    t[{A::kPause, s}] = {"", "", "only a sending or scheduled broadcast can be paused; " + is(s)};
    t[{A::kResume, s}] = {"", "", "only a paused broadcast can be resumed; " + is(s)};
    t[{A::kCancel, s}] = {"cancelled", "cancelled by newsroom", ""};
    for (auto r : {A::kRetryFailed, A::kRetryUnknown})
      t[{r, s}] = {"", "", "only a broadcast that has sent can retry recipients; " + is(s)};
  }
  t[{A::kSend, S::kDraft}] = {"sending", "", ""};
  t[{A::kPause, S::kScheduled}] = {"paused", "paused by newsroom", ""};
  t[{A::kPause, S::kSending}] = {"paused", "paused by newsroom", ""};
  t[{A::kResume, S::kPaused}] = {"sending", "", ""};
  for (auto s : {S::kCompleted, S::kCancelled})
    t[{A::kCancel, s}] = {"", "",
                          "a completed or cancelled broadcast cannot be cancelled; " + is(s)};
  for (auto r : {A::kRetryFailed, A::kRetryUnknown}) {
    t[{r, S::kSending}] = {"", "", ""};
    t[{r, S::kPaused}] = {"", "", ""};
    t[{r, S::kCompleted}] = {"sending", "", ""};
  }
  return t;
}

TEST(BroadcastLifecycleTest, EveryActionFromEveryStatusIsAllowedOrRefusedAsTheApiAnswers) {
  const auto expected = table();
  ASSERT_EQ(expected.size(), kActions.size() * kStatuses.size());
  int allowed = 0;
  for (auto a : kActions) {
    for (auto s : kStatuses) {
      SCOPED_TRACE(std::string(to_string(a)) + " from " + to_string(s));
      const auto& want = expected.at({a, s});
      auto t = plan_transition(with(s), a, kNow, "newsroom");
      if (!want.refused.empty()) {
        ASSERT_FALSE(t);
        EXPECT_EQ(t.error().kind, ErrorCode::kConflict);
        EXPECT_EQ(t.error().code, "invalid_transition");
        EXPECT_EQ(t.error().message, want.refused);
        EXPECT_EQ(t.error().field, "");
        continue;
      }
      ++allowed;
      ASSERT_TRUE(t) << t.error().message;
      EXPECT_EQ(t->to ? std::string(to_string(*t->to)) : std::string(), want.to);
      EXPECT_EQ(t->reason, want.reason);
      EXPECT_EQ(t->needs_audience, a == A::kSend);
      const bool retry = a == A::kRetryFailed || a == A::kRetryUnknown;
      EXPECT_EQ(t->requeue, retry ? (a == A::kRetryFailed ? "failed" : "unknown") : std::string());
      EXPECT_EQ(t->only_if_requeued, retry && s == S::kCompleted);
    }
  }
  EXPECT_EQ(allowed, 1 + 2 + 1 + 4 + 2 * 3);
}

TEST(BroadcastLifecycleTest, ASendWithATimeAheadIsScheduledAndOneWhoseTimePassedIsRefused) {
  auto later = plan_transition(with(S::kDraft, kNow + 1), A::kSend, kNow, "newsroom");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->to, S::kScheduled);
  auto due = plan_transition(with(S::kDraft, kNow), A::kSend, kNow, "newsroom");
  ASSERT_TRUE(due);
  EXPECT_EQ(due->to, S::kSending);
  auto past = plan_transition(with(S::kDraft, kNow - 60), A::kSend, kNow, "newsroom");
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().kind, ErrorCode::kInvalidInput);
  EXPECT_EQ(past.error().code, "send_at_in_past");
  EXPECT_EQ(past.error().field, "send_at");
  EXPECT_EQ(past.error().message,
            "send_at 2023-11-14T22:12:20Z has passed (it is now 2023-11-14T22:13:20Z); give a "
            "later time, or \"now\" to send as soon as it is sent");
  // The status is checked first: a sent broadcast says so, whatever its time.
  auto sent = plan_transition(with(S::kSending, kNow - 60), A::kSend, kNow, "newsroom");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, "invalid_transition");
}

TEST(BroadcastLifecycleTest, AResumeBeforeTheTimeCameWaitsForItAgain) {
  // Paused while scheduled: not started, send_at ahead.
  auto waiting = plan_transition(with(S::kPaused, kNow + 60, 0), A::kResume, kNow, "newsroom");
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->to, S::kScheduled);
  EXPECT_EQ(waiting->reason, "");
  // Its time came while it was paused.
  auto due = plan_transition(with(S::kPaused, kNow, 0), A::kResume, kNow, "newsroom");
  ASSERT_TRUE(due);
  EXPECT_EQ(due->to, S::kSending);
  // Started already: it goes on, whatever send_at says.
  auto started = plan_transition(with(S::kPaused, kNow + 60, kNow - 5), A::kResume, kNow, "n");
  ASSERT_TRUE(started);
  EXPECT_EQ(started->to, S::kSending);
}

TEST(BroadcastLifecycleTest, OnlyADraftCanBeEdited) {
  EXPECT_FALSE(check_editable(with(S::kDraft)));
  for (auto s : kStatuses) {
    if (s == S::kDraft) continue;
    auto e = check_editable(with(s));
    ASSERT_TRUE(e) << to_string(s);
    EXPECT_EQ(e->kind, ErrorCode::kConflict);
    EXPECT_EQ(e->code, "invalid_transition");
    EXPECT_EQ(e->message,
              std::string("only a draft can be edited; this broadcast is ") + to_string(s));
  }
}

TEST(BroadcastLifecycleTest, ActionNamesAreTheRoutesLastSegment) {
  const std::vector<std::string> names = {"send",   "pause",        "resume",
                                          "cancel", "retry-failed", "retry-unknown"};
  for (std::size_t i = 0; i < kActions.size(); ++i) {
    EXPECT_EQ(to_string(kActions[i]), names[i]);
    EXPECT_EQ(broadcast_action_from(names[i]), kActions[i]);
  }
  EXPECT_FALSE(broadcast_action_from("Send"));
  EXPECT_FALSE(broadcast_action_from("retry"));
  EXPECT_FALSE(broadcast_action_from(""));
}

// One broadcast's drafts and ledger in memory, with every write recorded.
class RecordingBroadcast final : public BroadcastDrafts, public BroadcastLedger {
 public:
  std::optional<Broadcast> row;
  bool audience = true;
  std::map<std::string, int> queued_again;  // state → recipients requeue() finds
  std::vector<std::string> writes;          // "set_status sending ''", "requeue failed"
  int audience_checks = 0;

  std::int64_t insert(const Broadcast&) override { return 0; }
  std::optional<Broadcast> find(std::int64_t id) override {
    if (row && row->id == id) return row;
    return std::nullopt;
  }
  std::optional<Broadcast> find_by_idempotency_key(const std::string&,
                                                   const std::string&) override {
    return std::nullopt;
  }
  void update_content(const Broadcast&) override { writes.push_back("update_content"); }
  void set_status(std::int64_t, BroadcastStatus s, const std::string& reason,
                  std::int64_t) override {
    row->status = s;
    row->pause_reason = reason;
    writes.push_back(std::string("set_status ") + to_string(s) + " '" + reason + "'");
  }
  std::vector<std::string> unknown_topics(const std::vector<std::string>&) override { return {}; }
  std::vector<Broadcast> active() override { return {}; }
  std::optional<std::int64_t> take_run_lease(std::int64_t, std::int64_t, std::int64_t) override {
    return 1;
  }
  bool has_audience(const Broadcast&) override {
    ++audience_checks;
    return audience;
  }
  int not_in_ledger = 0;  // recipients snapshot_chunk() would still add
  int queued = 0;         // recipients skip_queued() finds
  bool unfinished = false;
  std::vector<std::int64_t> chunk_starts;  // the cursor each snapshot_chunk() started from
  int snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t) override {
    chunk_starts.push_back(b.snapshot_cursor);
    const int n = std::min(max_rows, not_in_ledger);
    not_in_ledger -= n;
    if (n < max_rows) row->snapshot_done = true;
    writes.push_back("snapshot_chunk " + std::to_string(n));
    return n;
  }
  SnapshotAhead snapshot_ahead(const Broadcast&, int, int, std::int64_t) override {
    ADD_FAILURE() << "the runner's thread writes ahead, not advance_broadcast";
    return {};
  }
  int skip_queued(std::int64_t, int max_rows, std::int64_t) override {
    const int n = std::min(max_rows, queued);
    queued -= n;
    writes.push_back("skip_queued " + std::to_string(n));
    return n;
  }
  bool has_unfinished(std::int64_t) override { return unfinished; }
  int requeue(std::int64_t, const std::string& state, std::int64_t) override {
    writes.push_back("requeue " + state);
    return queued_again[state];
  }

  Result<int> apply(A a, std::int64_t id = 7) {
    return apply_broadcast_action(*this, *this, id, a, kNow, "newsroom");
  }
};

TEST(BroadcastLifecycleTest, ApplyingWritesTheStatusAndReasonOfThePlan) {
  RecordingBroadcast s;
  s.row = with(S::kDraft);
  auto sent = s.apply(A::kSend);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent.value(), 0);
  EXPECT_EQ(s.audience_checks, 1);
  auto paused = s.apply(A::kPause);
  ASSERT_TRUE(paused);
  s.row->started_at = kNow;
  ASSERT_TRUE(s.apply(A::kResume));
  ASSERT_TRUE(s.apply(A::kCancel));
  EXPECT_EQ(s.writes,
            (std::vector<std::string>{
                "set_status sending ''", "set_status paused 'paused by newsroom'",
                "set_status sending ''", "set_status cancelled 'cancelled by newsroom'"}));
}

TEST(BroadcastLifecycleTest, ARefusalWritesNothing) {
  for (auto st : kStatuses) {
    for (auto a : kActions) {
      RecordingBroadcast s;
      s.row = with(st);
      s.queued_again["failed"] = 3;
      s.queued_again["unknown"] = 3;
      if (plan_transition(*s.row, a, kNow, "newsroom")) continue;
      auto r = s.apply(a);
      ASSERT_FALSE(r) << to_string(a) << " from " << to_string(st);
      EXPECT_EQ(r.error().code, "invalid_transition");
      EXPECT_TRUE(s.writes.empty()) << to_string(a) << " from " << to_string(st);
      EXPECT_EQ(s.audience_checks, 0);
      EXPECT_EQ(s.row->status, st);
    }
  }
}

TEST(BroadcastLifecycleTest, AnUnknownIdIs404) {
  RecordingBroadcast s;
  s.row = with(S::kDraft);
  for (auto a : kActions) {
    auto r = s.apply(a, 8);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorCode::kNotFound);
    EXPECT_EQ(r.error().code, "not_found");
    EXPECT_EQ(r.error().message, "no such broadcast");
  }
  EXPECT_TRUE(s.writes.empty());
}

TEST(BroadcastLifecycleTest, ASendToNobodyIsRefusedAndStaysADraft) {
  RecordingBroadcast s;
  s.row = with(S::kDraft);
  s.audience = false;
  auto r = s.apply(A::kSend);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorCode::kConflict);
  EXPECT_EQ(r.error().code, "empty_audience");
  EXPECT_EQ(r.error().message,
            "no confirmed email address matches this broadcast; nothing was sent and it stays a "
            "draft");
  EXPECT_TRUE(s.writes.empty());
  s.row->channel = ChannelKind::kSms;
  s.row->topics = {"news"};
  r = s.apply(A::kSend);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "no confirmed phone number in the broadcast's topics matches this broadcast; nothing "
            "was sent and it stays a draft");
  // A send_at that passed is refused before the ledger is asked.
  s.row->send_at = kNow - 1;
  r = s.apply(A::kSend);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "send_at_in_past");
  EXPECT_EQ(s.audience_checks, 2);
  EXPECT_TRUE(s.writes.empty());
}

TEST(BroadcastLifecycleTest, ARetryQueuesAgainAndReopensACompletedBroadcastOnlyWhenAnyWent) {
  for (auto [a, state] :
       {std::pair{A::kRetryFailed, "failed"}, std::pair{A::kRetryUnknown, "unknown"}}) {
    SCOPED_TRACE(state);
    RecordingBroadcast s;
    s.row = with(S::kCompleted);
    s.row->pause_reason = "";
    auto none = s.apply(a);
    ASSERT_TRUE(none);
    EXPECT_EQ(none.value(), 0);
    EXPECT_EQ(s.row->status, S::kCompleted);
    EXPECT_EQ(s.writes, (std::vector<std::string>{std::string("requeue ") + state}));

    s.writes.clear();
    s.queued_again[state] = 2;
    auto two = s.apply(a);
    ASSERT_TRUE(two);
    EXPECT_EQ(two.value(), 2);
    EXPECT_EQ(s.writes,
              (std::vector<std::string>{std::string("requeue ") + state, "set_status sending ''"}));

    // Paused (by an operator or by errors) it stays paused, its reason kept.
    s.writes.clear();
    s.row->status = S::kPaused;
    s.row->pause_reason = "50 errors in a row";
    auto paused = s.apply(a);
    ASSERT_TRUE(paused);
    EXPECT_EQ(paused.value(), 2);
    EXPECT_EQ(s.writes, (std::vector<std::string>{std::string("requeue ") + state}));
    EXPECT_EQ(s.row->status, S::kPaused);
    EXPECT_EQ(s.row->pause_reason, "50 errors in a row");
  }
}

TEST(BroadcastLifecycleTest, TheRunnerStartsAScheduledBroadcastWhenItsTimeComes) {
  RecordingBroadcast s;
  s.row = with(S::kScheduled, kNow + 60);
  auto early = advance_broadcast(s, s, 7, 100, kNow);
  EXPECT_FALSE(early.changed);
  EXPECT_FALSE(early.queued);
  EXPECT_TRUE(s.writes.empty());
  auto due = advance_broadcast(s, s, 7, 100, kNow + 60);
  EXPECT_TRUE(due.changed);
  EXPECT_FALSE(due.queued);
  EXPECT_EQ(s.writes, (std::vector<std::string>{"set_status sending ''"}));
}

// A chunk written ahead from where the cursor stands is skipped over; one
// from elsewhere (another runner moved the cursor since) or an empty one is not.
TEST(BroadcastLifecycleTest, AChunkWrittenAheadFromTheCursorIsSkippedAndNoOtherIs) {
  RecordingBroadcast s;
  s.row = with(S::kSending);
  s.row->snapshot_cursor = 40;
  s.not_in_ledger = 1000;
  const SnapshotAhead from_cursor{40, 90, 50}, from_elsewhere{30, 90, 50}, empty{40, 40, 0};
  advance_broadcast(s, s, 7, 100, kNow, &from_cursor);
  advance_broadcast(s, s, 7, 100, kNow, &from_elsewhere);
  advance_broadcast(s, s, 7, 100, kNow, &empty);
  advance_broadcast(s, s, 7, 100, kNow, nullptr);
  EXPECT_EQ(s.chunk_starts, (std::vector<std::int64_t>{90, 40, 40, 40}));
}

TEST(BroadcastLifecycleTest, TheRunnerTakesTheLedgerInChunksThenCompletesWhenNothingIsLeft) {
  RecordingBroadcast s;
  s.row = with(S::kSending);
  s.not_in_ledger = 250;
  std::vector<BroadcastProgress> steps;
  for (int i = 0; i < 3; ++i) steps.push_back(advance_broadcast(s, s, 7, 100, kNow));
  EXPECT_EQ(s.writes, (std::vector<std::string>{"snapshot_chunk 100", "snapshot_chunk 100",
                                                "snapshot_chunk 50"}));
  for (const auto& p : steps) {
    EXPECT_TRUE(p.changed);
    EXPECT_TRUE(p.queued);
  }
  ASSERT_TRUE(s.row->snapshot_done);
  // Recipients still queued or sending: it stays sending, and says nothing changed.
  s.writes.clear();
  s.unfinished = true;
  auto busy = advance_broadcast(s, s, 7, 100, kNow);
  EXPECT_FALSE(busy.changed);
  EXPECT_TRUE(s.writes.empty());
  s.unfinished = false;
  auto done = advance_broadcast(s, s, 7, 100, kNow);
  EXPECT_TRUE(done.changed);
  EXPECT_FALSE(done.queued);
  EXPECT_EQ(s.writes, (std::vector<std::string>{"set_status completed ''"}));
}

TEST(BroadcastLifecycleTest, AnEmptyLastChunkStillCountsAsAChange) {
  RecordingBroadcast s;
  s.row = with(S::kSending);
  auto p = advance_broadcast(s, s, 7, 100, kNow);
  EXPECT_TRUE(p.changed);  // the snapshot is marked done: the runner goes on at once
  EXPECT_FALSE(p.queued);
  EXPECT_TRUE(s.row->snapshot_done);
}

TEST(BroadcastLifecycleTest, TheRunnerSkipsACancelledBroadcastsQueuedRecipientsInChunks) {
  RecordingBroadcast s;
  s.row = with(S::kCancelled);
  s.queued = 150;
  EXPECT_TRUE(advance_broadcast(s, s, 7, 100, kNow).changed);
  EXPECT_TRUE(advance_broadcast(s, s, 7, 100, kNow).changed);
  EXPECT_FALSE(advance_broadcast(s, s, 7, 100, kNow).changed);
  EXPECT_EQ(s.writes,
            (std::vector<std::string>{"skip_queued 100", "skip_queued 50", "skip_queued 0"}));
  EXPECT_EQ(s.row->status, S::kCancelled);
}

TEST(BroadcastLifecycleTest, TheRunnerLeavesDraftsPausedAndCompletedBroadcastsAndUnknownIds) {
  for (auto st : {S::kDraft, S::kPaused, S::kCompleted}) {
    RecordingBroadcast s;
    s.row = with(st, kNow - 60);
    s.not_in_ledger = 10;
    s.queued = 10;
    auto p = advance_broadcast(s, s, 7, 100, kNow);
    EXPECT_FALSE(p.changed) << to_string(st);
    EXPECT_FALSE(p.queued) << to_string(st);
    EXPECT_TRUE(s.writes.empty()) << to_string(st);
  }
  RecordingBroadcast s;
  s.row = with(S::kScheduled, kNow - 60);
  EXPECT_FALSE(advance_broadcast(s, s, 8, 100, kNow).changed);
  EXPECT_TRUE(s.writes.empty());
}

}  // namespace
}  // namespace sc

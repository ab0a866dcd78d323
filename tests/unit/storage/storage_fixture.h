// A migrated database in a fresh temp directory, with helpers to create
// subscribers, channels and outbox rows through the writer.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "sc/storage/storage.h"
#include "support/db_inspect.h"
#include "support/temp_dir.h"

namespace sc::storage {

class StorageTest : public ::testing::Test {
 protected:
  // When the fixture's messages are queued: before the tests' claims at 1000.
  static constexpr std::int64_t kQueuedAt = 900;
  void SetUp() override {
    path_ = dir_.str("db/sc.db");  // the parent directory is created on open
    migrate(path_);
    writer_ = std::make_unique<WriteQueue>(path_);
  }
  void TearDown() override { writer_.reset(); }

  std::int64_t add_channel(const std::string& address, ConsentState state = ConsentState::kPending,
                           ChannelKind kind = ChannelKind::kEmail) {
    return writer_->run([&](WriteContext& c) {
      Subscriber s;
      s.created_at = 100;
      auto sid = c.tx().subscribers.insert_subscriber(s);
      Channel ch;
      ch.subscriber_id = sid;
      ch.kind = kind;
      ch.address = address;
      ch.state = state;
      ch.created_at = 100;
      ch.updated_at = 100;
      return c.tx().subscribers.insert_channel(ch);
    });
  }
  void set_state(std::int64_t channel_id, ConsentState state) {
    writer_->run(
        [&](WriteContext& c) { c.tx().subscribers.update_channel_state(channel_id, state, 200); });
  }
  static OutboundEmail sample_email(const std::string& to) {
    OutboundEmail m;
    m.message_id = "m-" + to + "@mail.example.org";
    m.date_unix = 1234;
    m.from = {"news@mail.example.org", "Example"};
    m.to = {to, ""};
    m.subject = "Subject \xe2\x9c\x93";
    m.text = "text body";
    m.html = "<p>html</p>";
    m.list_unsubscribe_url = "https://news.example.org/unsubscribe/u.1.0.ab";
    m.extra_headers = {{"X-Campaign", "7"}};
    m.template_name = "welcome";
    m.template_vars = {{"first_name", "Ann"}};
    return m;
  }
  // A bulk message (broadcast_id set) belongs to a sending broadcast; a
  // channel is in a broadcast's ledger once, so a second message to the same
  // channel goes into another sending broadcast (id + 1000 per repeat).
  std::int64_t enqueue_email(std::int64_t channel_id, const std::string& to,
                             std::int64_t broadcast_id = 0) {
    if (broadcast_id != 0) {
      broadcast_id += 1000 * ledger_uses_[{broadcast_id, channel_id}]++;
      db_inspect::exec(path_,
                       "INSERT OR IGNORE INTO broadcasts (id, channel, text, status, created_at,"
                       " updated_at) VALUES (" +
                           std::to_string(broadcast_id) + ", 'email', 't', 'sending', 0, 0)");
    }
    return writer_->run([&](WriteContext& c) {
      OutboxEntry e;
      e.queued_at = kQueuedAt;
      e.kind = OutboxKind::kEmail;
      e.channel_id = channel_id;
      e.broadcast_id = broadcast_id;
      e.purpose = broadcast_id ? "broadcast" : "confirm";
      return c.tx().messages.enqueue_email(e, sample_email(to));
    });
  }
  std::map<std::pair<std::int64_t, std::int64_t>, int> ledger_uses_;
  std::int64_t enqueue_sms(std::int64_t channel_id, const std::string& to) {
    return writer_->run([&](WriteContext& c) {
      OutboxEntry e;
      e.queued_at = kQueuedAt;
      e.kind = OutboxKind::kSms;
      e.channel_id = channel_id;
      e.purpose = "confirm";
      OutboundSms s;
      s.to = to;
      s.body = "Reply YES";
      return c.tx().messages.enqueue_sms(e, s);
    });
  }
  // Reads what the writer committed, on a read-only connection of the test's own.
  std::string query(const std::string& sql) { return db_inspect::query_value(path_, sql); }

  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<WriteQueue> writer_;
};

}  // namespace sc::storage

// What SendGrid's Event Webhook reports, applied to channels and outbox rows.
#include "sc/core/email_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sc/core/consent_service.h"
#include "sc/core/text.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

using ::testing::HasSubstr;
using unit::MemoryConsentStore;

constexpr std::int64_t kT0 = 1'700'000'000;

class EmailEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Subscriber sub;
    sub.created_at = kT0;
    const auto sid = store_.insert_subscriber(sub);
    Channel c;
    c.subscriber_id = sid;
    c.kind = ChannelKind::kEmail;
    c.address = "Reader@Example.org";
    c.state = ConsentState::kConfirmed;
    channel_ = store_.insert_channel(c);
    OutboxEntry e;
    e.kind = OutboxKind::kEmail;
    e.channel_id = channel_;
    e.purpose = "welcome";
    outbox_ = store_.enqueue_email(e, OutboundEmail{});
    store_.provider_ids[outbox_] = "LRzXl_NHStOGhQ4kofSm_A";
  }

  EmailEvent event(std::string type, std::string id) const {
    EmailEvent e;
    e.event = std::move(type);
    e.event_id = std::move(id);
    e.outbox_id = outbox_;
    e.email = "reader@example.org";
    e.timestamp = kT0 + 100;
    return e;
  }
  EmailEventsOutcome apply(std::vector<EmailEvent> events) {
    return apply_email_events(store_.consent(), store_, events, kT0 + 200);
  }
  ConsentState state() { return store_.channels.at(channel_).state; }
  std::string delivery() { return store_.delivery[outbox_].delivery_state; }

  MemoryConsentStore store_;
  std::int64_t channel_ = 0;
  std::int64_t outbox_ = 0;
};

TEST_F(EmailEventsTest, AHardBounceMakesTheAddressUndeliverable) {
  auto e = event("bounce", "ev1");
  e.type = "bounce";
  e.status = "5.1.1";
  e.reason = "550 5.1.1 The email account that you tried to reach does not exist.";
  const auto out = apply({e});
  EXPECT_EQ(out.applied, 1);
  EXPECT_EQ(state(), ConsentState::kUndeliverable);
  ASSERT_FALSE(store_.events.empty());
  const auto& row = store_.events.back();
  EXPECT_EQ(row.action, ConsentAction::kUndeliverable);
  EXPECT_EQ(row.source, ConsentSource::kProvider);
  EXPECT_THAT(row.detail, HasSubstr("sendgrid bounce 5.1.1 550 5.1.1 The email account"));
  EXPECT_THAT(row.detail, HasSubstr("(ev1)"));
  EXPECT_EQ(delivery(), "bounced");
  EXPECT_EQ(store_.delivery_codes[outbox_], "5.1.1");
  EXPECT_EQ(store_.delivery[outbox_].delivery_at, kT0 + 100);
  EXPECT_EQ(out.counts.at("bounce").at("applied"), 1);
}

TEST_F(EmailEventsTest, ReportsAreBoundedOneLineUtf8) {
  // One of the two paddings puts a cut in the middle of a two-byte é.
  for (int pad = 0; pad < 2; ++pad) {
    store_.channels.at(channel_).state = ConsentState::kConfirmed;
    store_.delivery.erase(outbox_);
    auto e = event("bounce", "ev\r\n" + std::to_string(pad));
    e.type = "bounce";
    e.status = "5.1.1 " + std::string(56 + pad, 'x');
    e.reason = std::string(pad, 'y') + "line one\r\nline two ";
    for (int i = 0; i < 300; ++i) {
      e.status += "\xc3\xa9";
      e.reason += "\xc3\xa9";
    }
    apply({e});
    ASSERT_FALSE(store_.events.empty());
    const auto& detail = store_.events.back().detail;
    EXPECT_TRUE(text::is_valid_utf8(detail)) << pad;
    EXPECT_EQ(detail.find_first_of("\r\n"), std::string::npos) << detail;
    EXPECT_LE(detail.size(), 300u + 70u);
    EXPECT_GE(detail.size(), 300u);
    const auto& code = store_.delivery_codes[outbox_];
    EXPECT_TRUE(text::is_valid_utf8(code)) << pad;
    EXPECT_GE(code.size(), 63u);
    EXPECT_LE(code.size(), 64u);
  }
}

TEST_F(EmailEventsTest, ABlockedBounceIsNotHard) {
  auto e = event("bounce", "ev1");
  e.type = "blocked";
  e.status = "5.2.2";
  e.reason = "552 5.2.2 over quota";
  apply({e});
  EXPECT_EQ(state(), ConsentState::kConfirmed);
  EXPECT_TRUE(store_.events.empty());
  EXPECT_EQ(delivery(), "blocked");
}

TEST_F(EmailEventsTest, DroppedForABadAddressOnlyIsUndeliverable) {
  auto spam = event("dropped", "ev1");
  spam.reason = "Spam Content (if spam checker app enabled)";
  apply({spam});
  EXPECT_EQ(state(), ConsentState::kConfirmed);
  EXPECT_EQ(delivery(), "dropped");
  auto smtpapi = event("dropped", "ev2");
  smtpapi.reason = "Invalid SMTPAPI header";
  apply({smtpapi});
  EXPECT_EQ(state(), ConsentState::kConfirmed);
  // Matched by sg_message_id alone (no custom_args), as "Bounced Address" comes.
  auto bounced = event("dropped", "ev3");
  bounced.outbox_id.reset();
  bounced.message_id = "LRzXl_NHStOGhQ4kofSm_A";
  bounced.reason = "Bounced Address";
  EXPECT_EQ(apply({bounced}).applied, 1);
  EXPECT_EQ(state(), ConsentState::kUndeliverable);
  EXPECT_THAT(store_.events.back().detail, HasSubstr("Bounced Address"));
}

TEST_F(EmailEventsTest, DroppedInvalidIsUndeliverable) {
  auto e = event("dropped", "ev1");
  e.reason = "Invalid";
  apply({e});
  EXPECT_EQ(state(), ConsentState::kUndeliverable);
}

TEST_F(EmailEventsTest, ASpamReportUnsubscribesAsAComplaint) {
  apply({event("spamreport", "ev1")});
  EXPECT_EQ(state(), ConsentState::kUnsubscribed);
  ASSERT_EQ(store_.events.size(), 1u);
  EXPECT_EQ(store_.events[0].action, ConsentAction::kWithdraw);
  EXPECT_EQ(store_.events[0].source, ConsentSource::kComplaint);
  EXPECT_THAT(store_.events[0].detail, HasSubstr("sendgrid spamreport"));
  EXPECT_TRUE(delivery().empty());  // a complaint says nothing about delivery
}

TEST_F(EmailEventsTest, ProviderUnsubscribesUnsubscribe) {
  for (const char* type : {"unsubscribe", "group_unsubscribe"}) {
    store_.channels.at(channel_).state = ConsentState::kConfirmed;
    store_.events.clear();
    apply({event(type, std::string("ev-") + type)});
    EXPECT_EQ(state(), ConsentState::kUnsubscribed) << type;
    ASSERT_EQ(store_.events.size(), 1u) << type;
    EXPECT_EQ(store_.events[0].source, ConsentSource::kProvider) << type;
  }
}

TEST_F(EmailEventsTest, DeliveryStatesNeverMoveBackwards) {
  auto deferred = event("deferred", "ev1");
  deferred.response = "421 4.7.0 try again later";
  apply({deferred});
  EXPECT_EQ(delivery(), "deferred");
  EXPECT_EQ(store_.delivery_codes[outbox_], "421");
  auto delivered = event("delivered", "ev2");
  delivered.response = "250 2.0.0 OK";
  delivered.timestamp = kT0 + 150;
  apply({delivered});
  EXPECT_EQ(delivery(), "delivered");
  EXPECT_EQ(store_.delivery_codes[outbox_], "250");
  // A deferral reported late (and even stamped later) does not undo it.
  auto late = event("deferred", "ev3");
  late.timestamp = kT0 + 160;
  apply({late});
  EXPECT_EQ(delivery(), "delivered");
  EXPECT_EQ(store_.delivery[outbox_].delivery_at, kT0 + 150);
  // Nor does a bounce: delivered is final.
  auto bounce = event("bounce", "ev4");
  bounce.type = "bounce";
  apply({bounce});
  EXPECT_EQ(delivery(), "delivered");
}

TEST_F(EmailEventsTest, AnEventPostedTwiceCountsOnce) {
  auto e = event("spamreport", "same-id");
  auto first = apply({e});
  EXPECT_EQ(first.applied, 1);
  // Re-subscribed meanwhile (a new sign-up and confirmation): the old report
  // posted again must not unsubscribe them a second time.
  store_.channels.at(channel_).state = ConsentState::kConfirmed;
  const auto rows = store_.events.size();
  auto again = apply({e, e});
  EXPECT_EQ(again.applied, 0);
  EXPECT_EQ(again.counts.at("spamreport").at("duplicate"), 2);
  EXPECT_EQ(state(), ConsentState::kConfirmed);
  EXPECT_EQ(store_.events.size(), rows);
}

TEST_F(EmailEventsTest, UnknownEventsAndRowsAreIgnored) {
  const auto writes = store_.writes();
  auto open = event("open", "ev1");
  auto unknown_row = event("bounce", "ev2");
  unknown_row.type = "bounce";
  unknown_row.outbox_id = 999;
  auto unknown_id = event("bounce", "ev3");
  unknown_id.type = "bounce";
  unknown_id.outbox_id.reset();
  unknown_id.message_id = "nobody";
  auto other_address = event("spamreport", "ev4");
  other_address.email = "someone.else@example.org";
  auto strange = event("brand_new_event", "ev5");
  const auto out = apply({open, unknown_row, unknown_id, other_address, strange});
  EXPECT_EQ(out.applied, 0);
  EXPECT_EQ(out.counts.at("open").at("ignored"), 1);
  EXPECT_EQ(out.counts.at("bounce").at("ignored"), 2);
  EXPECT_EQ(out.counts.at("spamreport").at("ignored"), 1);
  EXPECT_EQ(out.counts.at("other").at("ignored"), 1);
  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(state(), ConsentState::kConfirmed);
}

// Without email the address check would be skipped (an id from another
// installation or a restored database would act on the wrong person);
// without sg_event_id a replay within the signed 10 minutes would act again
// on someone who re-subscribed meanwhile. Both are ignored and counted.
TEST_F(EmailEventsTest, EventsWithoutEmailOrEventIdAreIgnored) {
  const auto writes = store_.writes();
  auto no_email = event("spamreport", "ev1");
  no_email.email.clear();
  auto no_id = event("bounce", "");
  no_id.type = "bounce";
  auto out = apply({no_email, no_id});
  EXPECT_EQ(out.applied, 0);
  EXPECT_EQ(out.incomplete, 2);
  EXPECT_EQ(out.counts.at("spamreport").at("ignored"), 1);
  EXPECT_EQ(out.counts.at("bounce").at("ignored"), 1);
  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(state(), ConsentState::kConfirmed);
  EXPECT_EQ(delivery(), "");
  // Posted again: still nothing, however often.
  out = apply({no_id, no_id, no_email});
  EXPECT_EQ(out.applied, 0);
  EXPECT_EQ(out.incomplete, 3);
  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(state(), ConsentState::kConfirmed);
  // The same events with both fields act.
  auto complete = event("spamreport", "ev9");
  EXPECT_EQ(apply({complete}).applied, 1);
  EXPECT_EQ(state(), ConsentState::kUnsubscribed);
}

TEST(EventTimestamp, TenMinutesBackAFewAhead) {
  EXPECT_TRUE(event_timestamp_fresh(std::to_string(kT0), kT0));
  EXPECT_TRUE(event_timestamp_fresh(std::to_string(kT0 - 600), kT0));
  EXPECT_FALSE(event_timestamp_fresh(std::to_string(kT0 - 601), kT0));
  EXPECT_TRUE(event_timestamp_fresh(std::to_string(kT0 + 300), kT0));
  EXPECT_FALSE(event_timestamp_fresh(std::to_string(kT0 + 301), kT0));
  for (const char* bad :
       {"", "timestamp", "17000000001234", "-1", "0", "1700000000.5", " 1700000000", "+1700000000"})
    EXPECT_FALSE(event_timestamp_fresh(bad, kT0)) << bad;
}

}  // namespace
}  // namespace sc

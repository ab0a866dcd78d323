// The DeliveryStore side of the writer's consent store: outbox rows found by
// id or by the provider's message id, delivery state written, provider event
// ids remembered (0008_provider_events.sql).
#include <gtest/gtest.h>

#include "sc/core/email_events.h"
#include "storage_fixture.h"

namespace sc::storage {
namespace {

class DeliveryStoreTest : public StorageTest {
 protected:
  template <class F>
  auto with_deliveries(F f) {
    return writer_->run([&](WriteContext& c) { return f(c.tx().deliveries); });
  }
  void mark_sent(std::int64_t id, const std::string& provider_id) {
    writer_->run([&](WriteContext& c) {
      claim_due(c.outbox(), 1000, 100, 2000);
      c.outbox().mark_sent(id, "sendgrid", SendResult::sent("202", provider_id), 1001);
    });
  }
};

TEST_F(DeliveryStoreTest, FindsEmailRowsByIdAndByProviderMessageId) {
  const auto ch = add_channel("a@example.com");
  const auto id = enqueue_email(ch, "a@example.com");
  const auto bulk = enqueue_email(ch, "a@example.com", 7);
  const auto sms = enqueue_sms(
      add_channel("+15005550006", ConsentState::kPending, ChannelKind::kSms), "+15005550006");
  mark_sent(id, "X-abc");
  auto row = with_deliveries([&](DeliveryStore& d) { return d.email_delivery(id); });
  ASSERT_TRUE(row);
  EXPECT_EQ(row->channel_id, ch);
  EXPECT_EQ(row->broadcast_id, 0);
  EXPECT_TRUE(row->delivery_state.empty());
  auto by_pid =
      with_deliveries([&](DeliveryStore& d) { return d.email_delivery_by_provider_id("X-abc"); });
  ASSERT_TRUE(by_pid);
  EXPECT_EQ(by_pid->id, id);
  EXPECT_EQ(with_deliveries([&](DeliveryStore& d) { return d.email_delivery(bulk); })->broadcast_id,
            7);
  EXPECT_FALSE(with_deliveries([&](DeliveryStore& d) { return d.email_delivery(sms); }));
  EXPECT_FALSE(with_deliveries([&](DeliveryStore& d) { return d.email_delivery(9999); }));
  EXPECT_FALSE(
      with_deliveries([&](DeliveryStore& d) { return d.email_delivery_by_provider_id("nope"); }));
}

TEST_F(DeliveryStoreTest, WritesTheDeliveryColumns) {
  const auto ch = add_channel("a@example.com");
  const auto id = enqueue_email(ch, "a@example.com");
  with_deliveries([&](DeliveryStore& d) {
    d.set_delivery(id, "bounced", "5.1.1", 1500);
    return 0;
  });
  const auto where = " FROM outbox WHERE id = " + std::to_string(id);
  EXPECT_EQ(query("SELECT delivery_state" + where), "bounced");
  EXPECT_EQ(query("SELECT delivery_code" + where), "5.1.1");
  EXPECT_EQ(query("SELECT delivery_at" + where), "1500");
  auto row = with_deliveries([&](DeliveryStore& d) { return d.email_delivery(id); });
  EXPECT_EQ(row->delivery_state, "bounced");
  EXPECT_EQ(row->delivery_at, 1500);
}

TEST_F(DeliveryStoreTest, RemembersEachProviderEventOnceAndForgetsOldOnes) {
  auto first = [&](const char* provider, const char* id, std::int64_t at) {
    return with_deliveries(
        [&](DeliveryStore& d) { return d.first_provider_event(provider, id, at); });
  };
  EXPECT_TRUE(first("sendgrid", "ev1", 1'000'000));
  EXPECT_FALSE(first("sendgrid", "ev1", 1'000'001));
  EXPECT_TRUE(first("twilio", "ev1", 1'000'002));  // ids are per provider
  EXPECT_EQ(query("SELECT COUNT(*) FROM provider_events"), "2");
  // A week later the old ids are pruned as new ones arrive.
  EXPECT_TRUE(first("sendgrid", "ev2", 1'000'000 + 8 * 86400));
  EXPECT_EQ(query("SELECT COUNT(*) FROM provider_events"), "1");
}

}  // namespace
}  // namespace sc::storage

// The delivery columns as SQLite stores them. What the DeliveryStore
// promises is in the storage contract (tests/contract/messages_contract_test.cpp).
#include <gtest/gtest.h>

#include "storage_fixture.h"

namespace sc::storage {
namespace {

class DeliveryStoreTest : public StorageTest {
 protected:
  template <class F>
  auto with_deliveries(F f) {
    return writer_->run([&](WriteContext& c) { return f(c.tx().deliveries); });
  }
};

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

}  // namespace
}  // namespace sc::storage

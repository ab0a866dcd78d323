// The counts of the SMS pumping limits on real SQLite: kept across a reopen,
// and written in the sign-up's own transaction, also under concurrent
// sign-ups. Counting per key and window, forgetting and rollback are in the
// storage contract (tests/contract/messages_contract_test.cpp).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "sc/core/consent_service.h"
#include "storage_fixture.h"
#include "support/unit_fakes.h"

namespace sc::storage {
namespace {

class SmsConfirmStoreTest : public StorageTest {
 protected:
  void record(const std::string& client, const std::string& number, std::int64_t at,
              std::int64_t forget_before = 0) {
    writer_->run([&](WriteContext& c) {
      c.tx().sms_confirms.record_sms_confirm({client, number, number_prefix(number)}, at,
                                             forget_before);
    });
  }
  std::int64_t count(SmsLimit scope, const std::string& key, std::int64_t since) {
    return writer_->run(
        [&](WriteContext& c) { return c.tx().sms_confirms.count_sms_confirms(scope, key, since); });
  }
};

TEST_F(SmsConfirmStoreTest, CountsSurviveAReopen) {
  record("198.51.100.7", "+16502530001", 100);
  writer_.reset();
  migrate(path_);
  writer_ = std::make_unique<WriteQueue>(path_);
  EXPECT_EQ(count(SmsLimit::kClient, "198.51.100.7", 0), 1);
}

// The service over real SQLite: the check and the count share the sign-up's
// transaction, so the eleventh text from one client is never queued.
TEST_F(SmsConfirmStoreTest, TheServiceQueuesTenTextsForAFloodFromOneClient) {
  class Phones final : public PhoneNormalizer {
   public:
    Result<std::string> normalize(std::string_view raw) const override { return std::string(raw); }
  } phones;
  unit::FakeSigner signer("k");
  unit::RecordingComposer composer;
  unit::CountingIds ids;
  ConsentService svc(ServiceConfig{}, signer, composer, &phones, ids);
  for (int i = 0; i < 40; ++i) {
    SignupRequest r;
    r.phone = "+1650" + std::to_string(2000 + i) + "0000";
    r.sms_consent = true;
    auto v = svc.validate(r).value();
    writer_->run([&](WriteContext& c) {
      svc.sign_up(c.tx(), v, {"198.51.100.7", "flood"}, 1'700'000'000 + i);
    });
  }
  EXPECT_EQ(query("SELECT count(*) FROM outbox WHERE kind = 'sms'"), "10");
  EXPECT_EQ(query("SELECT count(*) FROM sms_confirm_sends"), "10");
  EXPECT_EQ(query("SELECT count(*) FROM channels WHERE state = 'pending'"), "40");
}

// Sign-ups from many threads meet in the writer's group commits: each job
// sees the counts of the jobs before it, in the same batch too.
TEST_F(SmsConfirmStoreTest, ConcurrentSignUpsDoNotOvershoot) {
  class Phones final : public PhoneNormalizer {
   public:
    Result<std::string> normalize(std::string_view raw) const override { return std::string(raw); }
  } phones;
  unit::FakeSigner signer("k");
  unit::RecordingComposer composer;
  unit::CountingIds ids;
  ConsentService svc(ServiceConfig{}, signer, composer, &phones, ids);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        SignupRequest r;
        r.phone = "+1650" + std::to_string(2000 + t * 10 + i) + "0000";
        r.sms_consent = true;
        auto v = svc.validate(r).value();
        writer_->run([&](WriteContext& c) {
          svc.sign_up(c.tx(), v, {"198.51.100.7", "flood"}, 1'700'000'000);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(query("SELECT count(*) FROM outbox WHERE kind = 'sms'"), "10");
  EXPECT_EQ(query("SELECT count(*) FROM channels"), "80");
}

}  // namespace
}  // namespace sc::storage

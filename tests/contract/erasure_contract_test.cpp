// Erasure and the suppression list as every backend keeps them
// (sc/core/erasure.h): what names the person goes from every table, what
// proves their consent stays under a pseudonym, their addresses go on the
// suppression list as keyed hashes, and the logs refuse any other change.
#include <gtest/gtest.h>

#include "contract/backends.h"
#include "sc/core/erasure.h"
#include "sc/core/subscriber_list.h"
#include "support/unit_fakes.h"

namespace sc::contract {
namespace {

template <class B>
class ErasureContract : public Contract<B> {};
TYPED_TEST_SUITE(ErasureContract, Backends, BackendNames);

constexpr const char* kEmail = "Ann.Lee@Example.org";
constexpr const char* kPhone = "+16502530001";

struct Person {
  std::int64_t sid = 0, email = 0, sms = 0, other = 0;
  std::int64_t queued = 0, sent = 0;
};

Person seed(Db& db) {
  Person p;
  ConsentText text{"sms-v3", "I agree to receive texts", std::string(64, 's')};
  db.backend().register_consent_text(ChannelKind::kSms, text);
  p.email = db.add_channel(kEmail, ConsentState::kConfirmed, ChannelKind::kEmail, "Ann");
  p.sid = db.subscriber_of(p.email);
  p.other = db.add_channel("other@example.org", ConsentState::kConfirmed);
  db.write([&](const Transaction& tx) {
    Channel c;
    c.subscriber_id = p.sid;
    c.kind = ChannelKind::kSms;
    c.address = kPhone;
    c.state = ConsentState::kConfirmed;
    c.created_at = c.updated_at = 100;
    p.sms = tx.subscribers.insert_channel(c);
    tx.topics.add_topics(p.sid, {"news"});
    tx.topics.request_topics(p.email, {"jobs"}, 120);
    auto log = [&](std::int64_t sid, std::int64_t ch, ChannelKind kind, const char* address,
                   ConsentAction action, ConsentSource source, std::string detail,
                   std::string received, const ConsentText* t) {
      ConsentEvent e;
      e.subscriber_id = sid;
      e.channel_id = ch;
      e.channel = kind;
      e.address = address;
      e.action = action;
      e.source = source;
      if (detail.starts_with("sms ")) e.message_sid = detail.substr(4);
      e.detail = std::move(detail);
      e.text_received = std::move(received);
      e.context = {"198.51.100.7", "Mozilla/5.0 (Ann's phone)"};
      e.at = 130;
      if (t != nullptr) {
        e.consent_text_version = t->version;
        e.consent_text_sha256 = t->sha256_hex;
      }
      tx.consent_log.append_consent(e, t);
    };
    // A STOP from the number before it was anyone's (subscriber 0).
    log(0, 0, ChannelKind::kSms, kPhone, ConsentAction::kWithdraw, ConsentSource::kKeyword,
        "sms SMold", "STOP", nullptr);
    log(p.sid, p.sms, ChannelKind::kSms, kPhone, ConsentAction::kGrant, ConsentSource::kForm, "",
        "", &text);
    log(p.sid, p.sms, ChannelKind::kSms, kPhone, ConsentAction::kConfirm, ConsentSource::kKeyword,
        "sms SMyes", "yes please", nullptr);
    log(p.sid, p.email, ChannelKind::kEmail, kEmail, ConsentAction::kWithdraw,
        ConsentSource::kProvider, "550 5.1.1 <ann.lee@example.org>: no such user", "", nullptr);
    StoredInboundText t;
    t.message_sid = "SMquestion";
    t.from = kPhone;
    t.body = "Is this Ann's list?";
    t.keyword = "none";
    t.received_at = 140;
    tx.inbound_texts.insert_inbound_text(t);
    tx.sms_confirms.record_sms_confirm({"198.51.100.7", kPhone, "+1650253"}, 150, 0);
    tx.audit.append(
        AuditEntry{0, 160, "ops", "subscriber.lookup", "ann.lee@example.org", "::1", ""});
    tx.audit.append(AuditEntry{0, 161, "ops", "broadcast.test", "broadcast 3", "::1",
                               "to " + std::string(kPhone)});
    tx.audit.append(AuditEntry{0, 162, "ops", "subscriber.lookup", "other@example.org", "::1", ""});
  });
  p.queued = db.enqueue_email(p.email, kEmail);
  p.sent = db.enqueue_sms(p.sms, kPhone);
  return p;
}

TYPED_TEST(ErasureContract, WhatNamesThePersonGoesAndTheProofStaysUnderAPseudonym) {
  auto& db = this->db();
  const auto p = seed(db);
  unit::FakeSigner signer{"service-secret"};
  const auto email_key = suppression_key(signer, ChannelKind::kEmail, "ann.lee@example.org");
  const auto sms_key = suppression_key(signer, ChannelKind::kSms, kPhone);
  EXPECT_EQ(suppression_key(signer, ChannelKind::kEmail, kEmail), email_key) << "case folded";
  EXPECT_NE(suppression_key(unit::FakeSigner{"another"}, ChannelKind::kSms, kPhone), sms_key);
  EXPECT_EQ(email_key.size(), 64u);

  const auto out = db.write([&](const Transaction& tx) {
    EXPECT_FALSE(tx.suppressions.is_suppressed(ChannelKind::kEmail, email_key));
    return erase_subscriber(tx, signer, p.sid, "admin", 500);
  });
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out.value().channels.size(), 2u);
  EXPECT_EQ(out.value().channels[0].kind, ChannelKind::kEmail);
  EXPECT_EQ(out.value().channels[0].outbox_ids, (std::vector<std::int64_t>{p.queued}));
  EXPECT_EQ(out.value().channels[1].outbox_ids, (std::vector<std::int64_t>{p.sent}));

  db.write([&](const Transaction& tx) {
    EXPECT_FALSE(tx.subscribers.subscriber_by_id(p.sid));
    EXPECT_FALSE(tx.subscribers.find_channel(ChannelKind::kEmail, kEmail));
    EXPECT_FALSE(tx.subscribers.find_channel(ChannelKind::kSms, kPhone));
    EXPECT_TRUE(tx.subscribers.channels_of(p.sid).empty());
    EXPECT_TRUE(tx.topics.topics_of(p.sid).empty());
    EXPECT_TRUE(tx.topics.topic_requests_of(p.email).empty());
    EXPECT_TRUE(tx.suppressions.is_suppressed(ChannelKind::kEmail, email_key));
    EXPECT_TRUE(tx.suppressions.is_suppressed(ChannelKind::kSms, sms_key));
    EXPECT_FALSE(tx.suppressions.is_suppressed(ChannelKind::kSms, email_key));
    EXPECT_EQ(tx.sms_confirms.count_sms_confirms(SmsLimit::kNumber, kPhone, 0), 0);
    EXPECT_TRUE(tx.subscribers.find_channel(ChannelKind::kEmail, "other@example.org"));
    // A second erasure finds no one.
    EXPECT_EQ(erase_subscriber(tx, signer, p.sid, "admin", 600).error().kind, ErrorCode::kNotFound);
  });
  // The message not sent yet is skipped; no body is left.
  const auto queued = db.backend().outbox_row(p.queued);
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->state, "skipped");
  EXPECT_EQ(queued->last_code, "erased");
  EXPECT_TRUE(db.claim(5000).empty());

  auto& reads = this->backend().subscriber_reads();
  const auto entry = reads.suppression(ChannelKind::kSms, sms_key);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->reason, "admin");
  EXPECT_EQ(entry->created_at, 500);
  EXPECT_FALSE(reads.suppression(ChannelKind::kSms, std::string(64, '0')));
  // The proof: when, what, how and under which wording; nothing that names Ann.
  const auto sms_rows = reads.erased_consent(erased_pseudonym(sms_key));
  ASSERT_EQ(sms_rows.size(), 3u);  // the STOP from before, the grant, the confirmation
  EXPECT_EQ(sms_rows[0].action, "withdraw");
  EXPECT_EQ(sms_rows[0].detail, "sms SMold");
  EXPECT_EQ(sms_rows[1].action, "grant");
  EXPECT_EQ(sms_rows[1].source, "form");
  EXPECT_EQ(sms_rows[1].consent_text_version, "sms-v3");
  EXPECT_EQ(sms_rows[1].at, 130);
  EXPECT_EQ(sms_rows[2].message_sid, "SMyes");  // how it was confirmed stays
  for (const auto& r : sms_rows) {
    EXPECT_EQ(r.address, erased_pseudonym(sms_key));
    EXPECT_EQ(r.ip, "");
    EXPECT_EQ(r.user_agent, "");
    EXPECT_EQ(r.text_received, "");
  }
  const auto email_rows = reads.erased_consent(erased_pseudonym(email_key));
  ASSERT_EQ(email_rows.size(), 1u);
  EXPECT_EQ(email_rows[0].source, "provider");
  EXPECT_EQ(email_rows[0].detail, "") << "it quoted the address";
  EXPECT_TRUE(this->backend().reads().unknown_number_log(kPhone).empty());
  // The inbound text keeps its sid (replays stay refused), not its sender or words.
  const auto texts = this->backend().reads().inbound_for_review(10, 0);
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0].from, erased_pseudonym(sms_key));
  EXPECT_EQ(texts[0].body, "");
  db.write([&](const Transaction& tx) {
    EXPECT_TRUE(tx.inbound_texts.inbound_text_seen("SMquestion"));
  });
  // The audit log: the lookup's target is the pseudonym, the detail that
  // quoted the number is empty; another person's entry is untouched.
  const auto audit = db.backend().admin().audit_page(0, 10).entries;
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].target, "other@example.org");
  EXPECT_EQ(audit[1].detail, "");
  EXPECT_EQ(audit[1].target, "broadcast 3");
  EXPECT_EQ(audit[2].target, erased_pseudonym(email_key));
  EXPECT_EQ(audit[2].action, "subscriber.lookup");
  EXPECT_EQ(audit[2].at, 160);
}

// Below the ports, the logs take only an erasure's change: the pseudonym
// for the address and nothing else of the proof altered.
TYPED_TEST(ErasureContract, TheLogsRefuseAnyOtherChangeBelowThePorts) {
  auto& db = this->db();
  seed(db);
  auto refused = [&](const std::string& sql) {
    try {
      if (!this->backend().run_sql(sql)) return true;  // nothing below the ports
      return false;
    } catch (const std::exception& e) {
      return std::string(e.what()).find("append-only") != std::string::npos;
    }
  };
  EXPECT_TRUE(
      refused("UPDATE consent_log SET address = 'erased:x', ip = '', user_agent = '', "
              "text_received = NULL, at = at + 1"));
  EXPECT_TRUE(
      refused("UPDATE consent_log SET address = 'erased:x', ip = '', user_agent = '', "
              "text_received = NULL, action = 'grant'"));
  EXPECT_TRUE(refused("UPDATE consent_log SET address = 'someone-else@example.org'"));
  EXPECT_TRUE(refused("UPDATE consent_log SET address = 'erased:x', detail = 'forged'"));
  EXPECT_TRUE(refused("UPDATE audit_log SET target = 'someone-else'"));
  EXPECT_TRUE(refused("UPDATE audit_log SET target = 'erased:x', key_name = 'nobody'"));
  EXPECT_TRUE(refused("UPDATE audit_log SET detail = 'forged'"));
  EXPECT_TRUE(refused("DELETE FROM consent_log"));
  EXPECT_TRUE(refused("DELETE FROM audit_log"));
}

}  // namespace
}  // namespace sc::contract

// The operators' list as every backend answers it (sc/core/subscriber_list.h):
// newest first in pages, each search by the start of an address, a number
// or a name (ASCII case folded), each filter alone and together, and one
// subscriber with their consent history and messages.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "contract/backends.h"
#include "sc/core/subscriber_list.h"

namespace sc::contract {
namespace {

template <class B>
class DirectoryContract : public Contract<B> {};
TYPED_TEST_SUITE(DirectoryContract, Backends, BackendNames);

struct Person {
  std::string first_name{};
  std::string email{};  // "" for none
  std::string phone{};  // "" for none
  ConsentState email_state = ConsentState::kConfirmed;
  ConsentState phone_state = ConsentState::kConfirmed;
  std::vector<std::string> topics{};
  std::int64_t created_at = 100;
};

std::int64_t add(Db& db, const Person& p) {
  return db.write([&](const Transaction& tx) {
    Subscriber s;
    s.first_name = p.first_name;
    s.created_at = p.created_at;
    const auto sid = tx.subscribers.insert_subscriber(s);
    auto channel = [&](ChannelKind kind, const std::string& address, ConsentState state) {
      Channel c;
      c.subscriber_id = sid;
      c.kind = kind;
      c.address = address;
      c.state = state;
      c.created_at = c.updated_at = p.created_at;
      tx.subscribers.insert_channel(c);
    };
    if (!p.email.empty()) channel(ChannelKind::kEmail, p.email, p.email_state);
    if (!p.phone.empty()) channel(ChannelKind::kSms, p.phone, p.phone_state);
    if (!p.topics.empty()) tx.topics.add_topics(sid, p.topics);
    return sid;
  });
}

SubscriberQuery search(const std::string& q) {
  SubscriberQuery out;
  out.search = interpret_search(q).value();
  return out;
}

std::vector<std::int64_t> ids(SubscriberReads& reads, const SubscriberQuery& q) {
  std::vector<std::int64_t> out;
  for (const auto& s : reads.list(q)) out.push_back(s.subscriber.id);
  return out;
}

TYPED_TEST(DirectoryContract, ListsNewestFirstInPagesWithChannelsAndTopics) {
  auto& db = this->db();
  std::vector<std::int64_t> made;
  for (int i = 0; i < 5; ++i)
    made.push_back(add(db, {.first_name = "P" + std::to_string(i),
                            .email = "p" + std::to_string(i) + "@example.org",
                            .phone = i == 2 ? "+12025550102" : "",
                            .topics = i == 2 ? std::vector<std::string>{"news", "events"}
                                             : std::vector<std::string>{}}));
  auto& reads = this->backend().subscriber_reads();
  SubscriberQuery q;
  q.limit = 2;
  EXPECT_EQ(ids(reads, q), (std::vector<std::int64_t>{made[4], made[3]}));
  q.before_id = made[3];
  const auto page = reads.list(q);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].subscriber.id, made[2]);
  EXPECT_EQ(page[0].subscriber.first_name, "P2");
  EXPECT_EQ(page[0].topics, (std::vector<std::string>{"events", "news"}));
  ASSERT_EQ(page[0].channels.size(), 2u);
  EXPECT_EQ(page[0].channels[0].kind, ChannelKind::kEmail);
  EXPECT_EQ(page[0].channels[0].address, "p2@example.org");
  EXPECT_EQ(page[0].channels[1].address, "+12025550102");
  EXPECT_EQ(page[0].channels[1].state, ConsentState::kConfirmed);
  q.before_id = made[1];
  EXPECT_EQ(ids(reads, q), (std::vector<std::int64_t>{made[0]}));
}

TYPED_TEST(DirectoryContract, SearchesByTheStartOfAnAddressANumberOrANameCaseFolded) {
  auto& db = this->db();
  const auto ann = add(db, {.first_name = "Ann", .email = "Ann.Lee@Example.org"});
  const auto anna = add(db, {.first_name = "anna", .email = "z@example.org"});
  const auto bob = add(db, {.first_name = "Bob", .email = "annex@example.net"});
  const auto tel = add(db, {.first_name = "Tel", .phone = "+12025550100"});
  const auto tel2 = add(db, {.first_name = "Tel", .phone = "+442071838750"});
  add(db, {.first_name = "Zoë", .email = "zoe@example.org"});
  auto& reads = this->backend().subscriber_reads();
  // An address: its start, any case.
  EXPECT_EQ(ids(reads, search("ann.LEE@")), (std::vector<std::int64_t>{ann}));
  EXPECT_EQ(ids(reads, search("annex@example.net")), (std::vector<std::int64_t>{bob}));
  // A name or an address start, merged, newest first.
  EXPECT_EQ(ids(reads, search("AnN")), (std::vector<std::int64_t>{bob, anna, ann}));
  EXPECT_EQ(ids(reads, search("anna")), (std::vector<std::int64_t>{anna}));
  // A number, in international form with or without its + and spacing.
  EXPECT_EQ(ids(reads, search("+1 (202) 555")), (std::vector<std::int64_t>{tel}));
  EXPECT_EQ(ids(reads, search("44 20")), (std::vector<std::int64_t>{tel2}));
  // Only the start: the middle of an address, a name or a number finds nobody.
  EXPECT_TRUE(ids(reads, search("lee@")).empty());
  EXPECT_TRUE(ids(reads, search("nn")).empty());
  EXPECT_TRUE(ids(reads, search("5550100")).empty());
  // Beyond ASCII the name is matched as written.
  EXPECT_EQ(ids(reads, search("Zoë")).size(), 1u);
}

TYPED_TEST(DirectoryContract, FiltersByChannelStateTopicAndDatesAloneAndTogether) {
  auto& db = this->db();
  const auto a = add(db, {.first_name = "A",
                          .email = "a@example.org",
                          .phone = "+12025550101",
                          .phone_state = ConsentState::kUnsubscribed,
                          .topics = {"news"},
                          .created_at = 1000});
  const auto b = add(db, {.first_name = "B",
                          .email = "b@example.org",
                          .email_state = ConsentState::kUndeliverable,
                          .topics = {"events"},
                          .created_at = 2000});
  const auto c = add(db, {.first_name = "C",
                          .phone = "+12025550103",
                          .phone_state = ConsentState::kPending,
                          .topics = {"news", "events"},
                          .created_at = 3000});
  auto& reads = this->backend().subscriber_reads();
  auto with = [](auto fn) {
    SubscriberQuery q;
    fn(q);
    return q;
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(ids(reads, with([](auto& q) { q.channel = ChannelKind::kSms; })), (V{c, a}));
  EXPECT_EQ(ids(reads, with([](auto& q) { q.state = ConsentState::kUnsubscribed; })), (V{a}));
  EXPECT_EQ(ids(reads, with([](auto& q) { q.state = ConsentState::kConfirmed; })), (V{a}));
  EXPECT_EQ(ids(reads, with([](auto& q) { q.state = ConsentState::kUndeliverable; })), (V{b}));
  // Channel and state: the same channel has both.
  EXPECT_EQ(ids(reads, with([](auto& q) {
                  q.channel = ChannelKind::kSms;
                  q.state = ConsentState::kConfirmed;
                })),
            V{});
  EXPECT_EQ(ids(reads, with([](auto& q) {
                  q.channel = ChannelKind::kEmail;
                  q.state = ConsentState::kConfirmed;
                })),
            (V{a}));
  EXPECT_EQ(ids(reads, with([](auto& q) { q.topic = "news"; })), (V{c, a}));
  EXPECT_EQ(ids(reads, with([](auto& q) {
                  q.topic = "events";
                  q.state = ConsentState::kPending;
                })),
            (V{c}));
  EXPECT_EQ(ids(reads, with([](auto& q) { q.created_after = 2000; })), (V{c, b}));
  EXPECT_EQ(ids(reads, with([](auto& q) { q.created_before = 2000; })), (V{a}));
  EXPECT_EQ(ids(reads, with([](auto& q) {
                  q.created_after = 1500;
                  q.created_before = 3000;
                  q.topic = "events";
                })),
            (V{b}));
  // A search with filters.
  auto q = search("a@");
  q.topic = "events";
  EXPECT_TRUE(ids(reads, q).empty());
  q.topic = "news";
  EXPECT_EQ(ids(reads, q), (V{a}));
  // Pages of a state over both kinds, merged.
  auto s = with([](auto& r) { r.state = ConsentState::kConfirmed; });
  s.before_id = a;
  EXPECT_TRUE(ids(reads, s).empty());
}

TYPED_TEST(DirectoryContract, OneSubscriberWithConsentHistoryAndMessages) {
  auto& db = this->db();
  const auto channel = db.add_channel("m@example.org", ConsentState::kConfirmed);
  const auto sid = db.subscriber_of(channel);
  const auto other = db.add_channel("other@example.org", ConsentState::kConfirmed);
  const auto own = db.enqueue_email(channel, "m@example.org");
  db.enqueue_email(other, "other@example.org");
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  EXPECT_EQ(db.snapshot(bc, 100), 2);
  db.write([&](const Transaction& tx) {
    ConsentEvent e;
    e.subscriber_id = sid;
    e.channel_id = channel;
    e.channel = ChannelKind::kEmail;
    e.address = "m@example.org";
    e.action = ConsentAction::kGrant;
    e.source = ConsentSource::kForm;
    e.at = 150;
    tx.consent_log.append_consent(e, nullptr);
  });
  auto& reads = this->backend().subscriber_reads();
  const auto d = reads.find(sid);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->summary.subscriber.id, sid);
  ASSERT_EQ(d->summary.channels.size(), 1u);
  ASSERT_EQ(d->consent.size(), 1u);
  EXPECT_EQ(d->consent[0].action, "grant");
  EXPECT_EQ(d->consent[0].source, "form");
  // Their own message and their broadcast row, newest first; nobody else's.
  ASSERT_EQ(d->messages.size(), 2u);
  EXPECT_EQ(d->messages[0].broadcast_id, bc);
  EXPECT_EQ(d->messages[0].purpose, "broadcast");
  EXPECT_EQ(d->messages[0].state, "queued");
  EXPECT_EQ(d->messages[1].id, own);
  EXPECT_EQ(d->messages[1].broadcast_id, 0);
  EXPECT_GT(d->messages[0].id, d->messages[1].id);
  EXPECT_FALSE(reads.find(sid + 1000));
}

// The export reads every subscriber once, oldest first, a page at a time,
// each with every channel (email first), its consent evidence (the latest
// grant, confirmation and withdrawal) and their topics.
TYPED_TEST(DirectoryContract, TheExportReadsEverySubscriberOnceWithTheirEvidence) {
  auto& db = this->db();
  ConsentText text{"sms-v3", "I agree to receive texts", std::string(64, 's')};
  db.backend().register_consent_text(ChannelKind::kSms, text);
  const auto a = add(db, {"Ann",
                          "ann@example.org",
                          "+16502530001",
                          ConsentState::kConfirmed,
                          ConsentState::kUnsubscribed,
                          {"news", "events"},
                          100});
  const auto b = add(
      db, {"Bo", "", "+16502530002", ConsentState::kConfirmed, ConsentState::kPending, {}, 200});
  const auto c = add(
      db, {"Cy", "cy@example.org", "", ConsentState::kPending, ConsentState::kConfirmed, {}, 300});
  db.write([&](const Transaction& tx) {
    const auto sms = tx.subscribers.find_channel(ChannelKind::kSms, "+16502530001");
    auto log = [&](ConsentAction action, ConsentSource source, std::int64_t at,
                   const std::string& ip, const ConsentText* t) {
      ConsentEvent e;
      e.subscriber_id = a;
      e.channel_id = sms->id;
      e.channel = ChannelKind::kSms;
      e.address = sms->address;
      e.action = action;
      e.source = source;
      e.context.ip = ip;
      e.at = at;
      tx.consent_log.append_consent(e, t);
    };
    log(ConsentAction::kGrant, ConsentSource::kForm, 110, "198.51.100.1", nullptr);
    log(ConsentAction::kGrant, ConsentSource::kForm, 120, "198.51.100.2", &text);  // the latest
    log(ConsentAction::kConfirm, ConsentSource::kKeyword, 130, "", nullptr);
    log(ConsentAction::kReceived, ConsentSource::kKeyword, 135, "", nullptr);  // no evidence
    log(ConsentAction::kWithdraw, ConsentSource::kAdmin, 140, "", nullptr);
  });
  auto& reads = this->backend().subscriber_reads();
  const auto first = reads.export_page(0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].subscriber.id, a);
  EXPECT_EQ(first[0].subscriber.first_name, "Ann");
  EXPECT_EQ(first[0].topics, (std::vector<std::string>{"events", "news"}));
  ASSERT_EQ(first[0].channels.size(), 2u);
  EXPECT_EQ(first[0].channels[0].channel.kind, ChannelKind::kEmail);
  EXPECT_EQ(first[0].channels[0].evidence.granted_at, 0);
  const auto& sms = first[0].channels[1];
  EXPECT_EQ(sms.channel.address, "+16502530001");
  EXPECT_EQ(sms.channel.state, ConsentState::kUnsubscribed);
  EXPECT_EQ(sms.evidence.granted_at, 120);
  EXPECT_EQ(sms.evidence.grant_source, "form");
  EXPECT_EQ(sms.evidence.grant_ip, "198.51.100.2");
  EXPECT_EQ(sms.evidence.consent_text_version, "sms-v3");
  EXPECT_EQ(sms.evidence.confirmed_at, 130);
  EXPECT_EQ(sms.evidence.withdrawn_at, 140);
  EXPECT_EQ(sms.evidence.withdraw_source, "admin");
  EXPECT_EQ(first[1].subscriber.id, b);
  ASSERT_EQ(first[1].channels.size(), 1u);
  EXPECT_EQ(first[1].channels[0].channel.kind, ChannelKind::kSms);
  EXPECT_TRUE(first[1].topics.empty());
  const auto rest = reads.export_page(first.back().subscriber.id, 2);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].subscriber.id, c);
  EXPECT_EQ(rest[0].subscriber.created_at, 300);
  EXPECT_TRUE(reads.export_page(c, 2).empty());
}

// Counts from the database: channels by kind and state, topics, and the
// last 30 days of sign-ups, confirmations and withdrawals (older ones and
// other actions left out).
TYPED_TEST(DirectoryContract, StatsCountChannelsTopicsAndTheLast30Days) {
  auto& db = this->db();
  constexpr std::int64_t kDay = 86400;
  const std::int64_t now = 100 * kDay + 3600;  // day 100, 01:00 UTC
  const auto first = stats_first_day(now);
  EXPECT_EQ(first, 71 * kDay);
  const auto a = add(db, {.first_name = "A",
                          .email = "a@example.org",
                          .phone = "+12025550101",
                          .topics = {"news"},
                          .created_at = now});
  add(db, {.first_name = "B",
           .email = "b@example.org",
           .email_state = ConsentState::kUnsubscribed,
           .topics = {"news", "events"},
           .created_at = first});
  add(db, {.first_name = "C", .email = "c@example.org", .created_at = first - 1});
  auto log = [&](ConsentAction action, std::int64_t at) {
    db.write([&](const Transaction& tx) {
      ConsentEvent e;
      e.subscriber_id = a;
      e.channel_id = 1;
      e.address = "a@example.org";
      e.action = action;
      e.source = ConsentSource::kLink;
      e.at = at;
      tx.consent_log.append_consent(e, nullptr);
    });
  };
  log(ConsentAction::kConfirm, now);
  log(ConsentAction::kConfirm, now - 1);
  log(ConsentAction::kWithdraw, first + 5 * kDay);
  log(ConsentAction::kGrant, now);
  log(ConsentAction::kConfirm, first - 1);
  const auto s = this->backend().subscriber_reads().stats(now);
  EXPECT_EQ(s.subscribers, 3);
  std::map<std::pair<ChannelKind, ConsentState>, std::int64_t> channels;
  for (const auto& c : s.channels) channels[{c.kind, c.state}] = c.count;
  EXPECT_EQ(channels, (std::map<std::pair<ChannelKind, ConsentState>, std::int64_t>{
                          {{ChannelKind::kEmail, ConsentState::kConfirmed}, 2},
                          {{ChannelKind::kEmail, ConsentState::kUnsubscribed}, 1},
                          {{ChannelKind::kSms, ConsentState::kConfirmed}, 1}}));
  EXPECT_EQ(s.topics,
            (std::vector<std::pair<std::string, std::int64_t>>{{"events", 1}, {"news", 2}}));
  ASSERT_EQ(s.days.size(), static_cast<std::size_t>(kStatsDays));
  EXPECT_EQ(s.days.front().start, first);
  EXPECT_EQ(s.days.back().start, 100 * kDay);
  EXPECT_EQ(s.days.front().signups, 1);  // B; C is the day before
  EXPECT_EQ(s.days.back().signups, 1);   // A
  EXPECT_EQ(s.days.back().confirmations, 2);
  EXPECT_EQ(s.days[5].unsubscribes, 1);
  std::int64_t total = 0;
  for (const auto& d : s.days) total += d.signups + d.confirmations + d.unsubscribes;
  EXPECT_EQ(total, 5);
  EXPECT_EQ(this->backend().subscriber_reads().channel_counts().size(), 3u);
}

}  // namespace
}  // namespace sc::contract

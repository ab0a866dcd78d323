// The operators' list (sc/core/subscriber_list.h) on the read pool: one
// driving statement per search or filter (schema/queries/*/directory.sql),
// then each subscriber's channels and topics.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "read_pool_impl.h"
#include "sc/core/subscriber_list.h"
#include "sc/storage/storage.h"
#include "sqlite_stores.h"

namespace sc::storage {

namespace {

using detail::Row;
using Kind = SubscriberSearch::Kind;

// Above every string that starts with the prefix: U+10FFFF, the highest code
// point, compares above every UTF-8 byte that may follow (bytes in order).
std::string upper_bound_of(const std::string& prefix) { return prefix + "\xF4\x8F\xBF\xBF"; }

MessageView read_message(const Row& r) {
  MessageView m;
  m.id = r.get<std::int64_t>(0);
  m.kind = channel_kind_from(r.get<std::string>(1)).value_or(ChannelKind::kEmail);
  m.purpose = r.get<std::string>(2);
  m.broadcast_id = r.get<std::int64_t>(3);
  m.state = r.get<std::string>(4);
  m.delivery_state = r.get<std::string>(5);
  m.provider = r.get<std::string>(6);
  m.created_at = r.get<std::int64_t>(7);
  m.finished_at = r.get<std::int64_t>(8);
  return m;
}

// The newest first of two lists each newest first, without repeats, at most `limit`.
std::vector<Subscriber> merge(std::vector<Subscriber> a, const std::vector<Subscriber>& b,
                              int limit) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end(), [](const auto& x, const auto& y) { return x.id > y.id; });
  a.erase(
      std::unique(a.begin(), a.end(), [](const auto& x, const auto& y) { return x.id == y.id; }),
      a.end());
  if (static_cast<int>(a.size()) > limit) a.resize(static_cast<std::size_t>(limit));
  return a;
}

}  // namespace

std::vector<SubscriberSummary> ReadPool::subscribers(const SubscriberQuery& q) {
  auto l = impl_->lease();
  const std::string channel = q.channel ? to_string(*q.channel) : "";
  const std::string state = q.state ? to_string(*q.state) : "";
  const std::int64_t before_t = q.created_before != 0 ? q.created_before : INT64_MAX;
  const std::int64_t before_id = q.before_id != 0 ? q.before_id : INT64_MAX;
  // The statement named `name`, its filters bound (?1 to ?7), then `more`.
  auto run = [&](const char* name, const auto&... more) {
    return l(name)
        .bind(channel, state, q.topic, q.created_after, before_t, before_id, q.limit, more...)
        .all(detail::read_subscriber);
  };
  const auto& p = q.search.prefix;
  std::vector<Subscriber> found;
  switch (q.search.kind) {
    case Kind::kEmail:
      found = run("directory.by_address", std::string("email"), p, upper_bound_of(p));
      break;
    case Kind::kPhone:
      found = run("directory.by_address", std::string("sms"), p, upper_bound_of(p));
      break;
    case Kind::kNameOrEmail:
      found =
          merge(run("directory.by_name", p, upper_bound_of(p)),
                run("directory.by_address", std::string("email"), p, upper_bound_of(p)), q.limit);
      break;
    case Kind::kNone:
      if (!q.topic.empty())
        found = run("directory.by_topic");
      else if (q.state && q.channel)
        found = run("directory.by_state", channel);
      else if (q.state)
        found = merge(run("directory.by_state", std::string("email")),
                      run("directory.by_state", std::string("sms")), q.limit);
      else
        found = run("directory.page");
      break;
  }
  std::vector<SubscriberSummary> out;
  out.reserve(found.size());
  for (auto& s : found) {
    SubscriberSummary one;
    one.channels = l("reads.channels_of_subscriber").bind(s.id).all(detail::read_channel_view);
    one.topics = l("topics.of_subscriber").bind(s.id).all([](const Row& r) {
      return r.get<std::string>(0);
    });
    one.subscriber = std::move(s);
    out.push_back(std::move(one));
  }
  return out;
}

std::optional<std::int64_t> ReadPool::subscriber_of_channel(std::int64_t channel_id) {
  auto l = impl_->lease();
  return l("directory.subscriber_of_channel").bind(channel_id).value<std::int64_t>();
}

std::optional<SubscriberDetail> ReadPool::subscriber(std::int64_t id, int max_messages) {
  auto l = impl_->lease();
  auto sub = l("subscribers.by_id").bind(id).one(detail::read_subscriber);
  if (!sub) return std::nullopt;
  SubscriberDetail d;
  d.summary.subscriber = *sub;
  d.summary.channels = l("reads.channels_of_subscriber").bind(id).all(detail::read_channel_view);
  d.summary.topics =
      l("topics.of_subscriber").bind(id).all([](const Row& r) { return r.get<std::string>(0); });
  d.consent = l("reads.consent_log_of_subscriber").bind(id).all(detail::read_log_row);
  if (max_messages != 0) {
    const std::int64_t limit = max_messages < 0 ? INT64_MAX : max_messages;
    d.messages = l("directory.messages").bind(id, limit).all(read_message);
  }
  return d;
}

std::vector<ChannelCount> ReadPool::channel_counts() {
  auto l = impl_->lease();
  return l("directory.channel_counts").all([](const Row& r) {
    return ChannelCount{channel_kind_from(r.get<std::string>(0)).value_or(ChannelKind::kEmail),
                        consent_state_from(r.get<std::string>(1)).value_or(ConsentState::kPending),
                        r.get<std::int64_t>(2)};
  });
}

SubscriberStats ReadPool::subscriber_stats(std::int64_t now) {
  SubscriberStats s;
  s.channels = channel_counts();
  auto l = impl_->lease();
  s.subscribers = l("directory.subscriber_count").value<std::int64_t>().value_or(0);
  s.topics = l("directory.topic_counts").all([](const Row& r) {
    return std::pair(r.get<std::string>(0), r.get<std::int64_t>(1));
  });
  const auto first = stats_first_day(now);
  s.days.resize(kStatsDays);
  for (int i = 0; i < kStatsDays; ++i)
    s.days[static_cast<std::size_t>(i)].start = first + i * 86400;
  auto day = [&](std::int64_t i) -> SubscriberStats::Day* {
    return i >= 0 && i < kStatsDays ? &s.days[static_cast<std::size_t>(i)] : nullptr;
  };
  for (const auto& [i, n] :
       l("directory.signups_by_day").bind(first).all<std::int64_t, std::int64_t>())
    if (auto* d = day(i)) d->signups = n;
  for (const auto& [action, i, n] :
       l("directory.consent_by_day").bind(first).all<std::string, std::int64_t, std::int64_t>()) {
    if (auto* d = day(i)) (action == "confirm" ? d->confirmations : d->unsubscribes) = n;
  }
  return s;
}

std::vector<ExportedSubscriber> ReadPool::export_page(std::int64_t after_id, int limit) {
  auto l = impl_->lease();
  std::vector<ExportedSubscriber> out;
  for (auto& sub : l("directory.export_page").bind(after_id, limit).all(detail::read_subscriber))
    out.push_back(ExportedSubscriber{std::move(sub), {}, {}});
  if (out.empty()) return out;
  const auto last = out.back().subscriber.id;
  // The page's subscribers in id order: each row of the range finds its own.
  auto of = [&](std::int64_t id) -> ExportedSubscriber* {
    auto it = std::lower_bound(out.begin(), out.end(), id,
                               [](const auto& e, std::int64_t v) { return e.subscriber.id < v; });
    return it != out.end() && it->subscriber.id == id ? &*it : nullptr;
  };
  std::map<std::int64_t, ExportedChannel*> channels;
  l("directory.export_channels").bind(after_id, last).each([&](const Row& r) {
    auto* e = of(r.get<std::int64_t>(0));
    if (e == nullptr) return;
    ChannelView c{channel_kind_from(r.get<std::string>(1)).value_or(ChannelKind::kEmail),
                  r.get<std::string>(2),
                  consent_state_from(r.get<std::string>(3)).value_or(ConsentState::kPending),
                  r.get<std::int64_t>(4),
                  r.get<std::int64_t>(5),
                  r.get<std::int64_t>(6)};
    e->channels.push_back(ExportedChannel{std::move(c), {}});
  });
  for (auto& e : out)
    for (auto& c : e.channels) channels[c.channel.channel_id] = &c;
  l("directory.export_topics").bind(after_id, last).each([&](const Row& r) {
    if (auto* e = of(r.get<std::int64_t>(0))) e->topics.push_back(r.get<std::string>(1));
  });
  l("directory.export_evidence").bind(after_id, last).each([&](const Row& r) {
    auto c = channels.find(r.get<std::int64_t>(0));
    if (c == channels.end()) return;
    add_evidence(c->second->evidence, r.get<std::string>(1), r.get<std::int64_t>(2),
                 r.get<std::string>(3), r.get<std::string>(4), r.get<std::string>(5));
  });
  return out;
}

std::optional<SuppressionView> ReadPool::suppression(ChannelKind kind, const std::string& key) {
  auto l = impl_->lease();
  return l("directory.suppression").bind(to_string(kind), key).one([](const Row& r) {
    return SuppressionView{r.get<std::string>(0), r.get<std::int64_t>(1)};
  });
}

std::vector<ConsentLogView> ReadPool::erased_consent(const std::string& pseudonym) {
  auto l = impl_->lease();
  return l("directory.erased_consent").bind(pseudonym).all(detail::read_log_row);
}

}  // namespace sc::storage

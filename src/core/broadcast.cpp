#include "sc/core/broadcast.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "sc/core/person_name.h"
#include "sc/core/sms_segments.h"
#include "sc/core/text.h"

namespace sc {

const char* to_string(BroadcastStatus s) {
  switch (s) {
    case BroadcastStatus::kDraft:
      return "draft";
    case BroadcastStatus::kScheduled:
      return "scheduled";
    case BroadcastStatus::kSending:
      return "sending";
    case BroadcastStatus::kPaused:
      return "paused";
    case BroadcastStatus::kCompleted:
      return "completed";
    case BroadcastStatus::kCancelled:
      return "cancelled";
  }
  return "draft";
}

std::optional<BroadcastStatus> broadcast_status_from(std::string_view s) {
  for (auto v :
       {BroadcastStatus::kDraft, BroadcastStatus::kScheduled, BroadcastStatus::kSending,
        BroadcastStatus::kPaused, BroadcastStatus::kCompleted, BroadcastStatus::kCancelled}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
}

bool valid_topic(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  int y, mo, d, h, mi, se;
  if (s.size() < 20) return std::nullopt;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, se))
    return std::nullopt;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const auto start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return std::nullopt;
  }
  if (i >= s.size()) return std::nullopt;
  int offset = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] ||
      (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + std::min(se, 59) - offset;
}

std::string format_rfc3339(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Broadcast> validate_draft(const BroadcastDraft& d, const BroadcastComposer& composer,
                                 const BroadcastSettings& settings) {
  Broadcast b;
  auto kind = channel_kind_from(d.channel);
  if (!kind) return invalid("invalid_channel", "channel must be \"email\" or \"sms\"", "channel");
  b.channel = *kind;
  TemplateRules rules;
  rules.limits.max_bytes =
      static_cast<std::size_t>(std::max<std::int64_t>(0, settings.max_text_bytes));
  rules.limits.max_depth = settings.max_template_depth;
  rules.limits.max_sections = settings.max_template_sections;
  rules.variables = broadcast_variables();
  auto check_template = [&](const std::string& src, const char* field) -> std::optional<Error> {
    if (src.size() > rules.limits.max_bytes)
      return invalid("too_long",
                     std::string(field) + " is longer than " +
                         std::to_string(rules.limits.max_bytes) + " bytes",
                     field);
    if (!text::is_valid_utf8(src))
      return invalid("invalid_encoding", std::string(field) + " is not valid UTF-8", field);
    // Limits and names first, by a linear scan: the parser's memory grows
    // with size times depth, so it sees only a template within bounds.
    if (auto e = sc::check_template(src, field, rules)) return e;
    auto err = composer.template_error(src);
    if (!err.empty())
      return invalid("invalid_template", std::string(field) + " does not parse: " + err, field);
    return std::nullopt;
  };
  if (!d.text || text::trim(*d.text).empty())
    return invalid("missing_text", "text is required and may not be empty", "text");
  b.text = *d.text;
  if (auto e = check_template(b.text, "text")) return *e;
  if (b.channel == ChannelKind::kEmail) {
    if (!d.subject || text::trim(*d.subject).empty())
      return invalid("missing_subject", "an email broadcast needs a subject", "subject");
    b.subject = *d.subject;
    if (b.subject.find_first_of("\r\n") != std::string::npos)
      return invalid("invalid_subject", "the subject must be one line", "subject");
    if (b.subject.size() > 998)
      return invalid("too_long", "the subject is longer than 998 bytes", "subject");
    if (auto e = check_template(b.subject, "subject")) return *e;
    if (d.html) {
      b.html = *d.html;
      if (auto e = check_template(b.html, "html")) return *e;
    }
  } else {
    if (d.subject && !d.subject->empty())
      return invalid("unexpected_field", "a text has no subject", "subject");
    if (d.html && !d.html->empty())
      return invalid("unexpected_field", "a text has no html part", "html");
    auto seg = composer.sms_segments(b.text);
    if (seg.segments > settings.sms_max_segments)
      return invalid("too_many_segments",
                     "the text takes " + std::to_string(seg.segments) + " segments (" +
                         (seg.gsm7 ? "GSM-7" : "UCS-2") + "); at most " +
                         std::to_string(settings.sms_max_segments) + " are allowed",
                     "text");
  }
  if (d.topics.size() > 20) return invalid("too_many_topics", "at most 20 topics", "topics");
  for (const auto& t : d.topics) {
    if (!valid_topic(t))
      return invalid("invalid_topic",
                     "a topic is 1-64 letters, digits, '-', '_' or '.': \"" + t + "\"", "topics");
    if (std::find(b.topics.begin(), b.topics.end(), t) == b.topics.end()) b.topics.push_back(t);
  }
  if (d.send_at && !d.send_at->empty()) {
    auto t = parse_rfc3339(*d.send_at);
    if (!t)
      return invalid("invalid_send_at",
                     "send_at must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z",
                     "send_at");
    b.send_at = *t;
  }
  return b;
}

const std::vector<std::string>& broadcast_variables() {
  static const std::vector<std::string> kNames = {"first_name", "org_name", "postal_address",
                                                  "unsubscribe_url"};
  return kNames;
}

SmsSegments estimate_sms_segments(const Composer& composer, std::string_view text,
                                  std::string_view org_name, std::string_view postal_address,
                                  std::string_view unsubscribe_url) {
  const auto tmpl = composer.prepare_inline(text, false);
  // Every character a name may hold in GSM-7 costs one septet, so the
  // longest such name is the costliest; no name at all may cost more when
  // the text has a {{^first_name}} fallback.
  std::map<std::string, std::string> vars = {{"first_name", std::string(kMaxPersonNameLength, 'x')},
                                             {"org_name", std::string(org_name)},
                                             {"postal_address", std::string(postal_address)},
                                             {"unsubscribe_url", std::string(unsubscribe_url)}};
  const auto longest = count_sms_segments(with_opt_out_footer(tmpl->render(vars)));
  vars["first_name"].clear();
  const auto nameless = count_sms_segments(with_opt_out_footer(tmpl->render(vars)));
  return nameless.segments > longest.segments ? nameless : longest;
}

SmsSegments BroadcastComposer::sms_segments(std::string_view text) const {
  // A link for a channel id as long as any real one will be.
  return estimate_sms_segments(composer_, text, settings_.org_name, settings_.postal_address,
                               service_.unsubscribe_url(999'999'999'999));
}

BroadcastComposer::BroadcastComposer(const Composer& composer, const ConsentService& service,
                                     Settings settings, Loader loader)
    : composer_(composer),
      service_(service),
      settings_(std::move(settings)),
      loader_(std::move(loader)) {}

std::string BroadcastComposer::render(std::string_view tmpl,
                                      const std::map<std::string, std::string>& vars,
                                      bool html) const {
  return composer_.inline_template(tmpl, vars, html);
}

std::string BroadcastComposer::template_error(std::string_view tmpl) const {
  return composer_.inline_error(tmpl);
}

namespace {

// A preview's or test copy's link: the deployment's real unsubscribe URL with
// its token replaced by a visible sample of the same length (so a text counts
// the same segments). Tokens start with "u." or "c.", so the token routes
// refuse it as invalid: it unsubscribes nobody, whoever reads it.
std::string sample_link(const std::string& real) {
  const auto cut = real.rfind('/') + 1;
  const std::size_t len = real.size() - cut;
  std::string token = "SAMPLE-link-in-a-preview-or-test-copy-unsubscribes-nobody";
  if (token.size() < len) token += std::string(len - token.size(), 'x');
  return real.substr(0, cut) + token;
}

}  // namespace

std::map<std::string, std::string> BroadcastComposer::vars_for(const Recipient& r,
                                                               bool sample) const {
  auto link = service_.unsubscribe_url(r.channel_id);
  auto manage = service_.preferences_url(r.channel_id);
  return {{"first_name", r.first_name},
          {"unsubscribe_url", sample ? sample_link(link) : link},
          {"preferences_url", sample ? sample_link(manage) : manage},
          {"org_name", settings_.org_name},
          {"postal_address", settings_.postal_address}};
}

BroadcastComposer::Prepared BroadcastComposer::prepare(Broadcast b) const {
  Prepared p;
  if (b.channel == ChannelKind::kEmail) p.subject = composer_.prepare_inline(b.subject, false);
  p.text = composer_.prepare_inline(b.text, false);
  if (b.channel == ChannelKind::kEmail && !b.html.empty())
    p.html = composer_.prepare_inline(b.html, true);
  for (const auto* t : {&p.subject, &p.text, &p.html})
    if (*t) p.bytes += (*t)->memory_bytes();
  p.broadcast = std::make_shared<const Broadcast>(std::move(b));
  return p;
}

OutboundEmail BroadcastComposer::email(const Broadcast& b, const Recipient& r,
                                       std::int64_t outbox_id, std::int64_t now) const {
  return email(prepare(b), r, outbox_id, now, false);
}

OutboundEmail BroadcastComposer::sample_email(const Broadcast& b, const Recipient& r,
                                              std::int64_t now) const {
  return email(prepare(b), r, 0, now, true);
}

OutboundSms BroadcastComposer::sms(const Broadcast& b, const Recipient& r,
                                   std::int64_t outbox_id) const {
  return sms(prepare(b), r, outbox_id, false);
}

OutboundSms BroadcastComposer::sample_sms(const Broadcast& b, const Recipient& r) const {
  return sms(prepare(b), r, 0, true);
}

OutboundEmail BroadcastComposer::email(const Prepared& p, const Recipient& r,
                                       std::int64_t outbox_id, std::int64_t now,
                                       bool sample) const {
  const Broadcast& b = *p.broadcast;
  auto vars = vars_for(r, sample);
  OutboundEmail m;
  m.outbox_id = outbox_id;
  auto domain = settings_.from.address.substr(settings_.from.address.rfind('@') + 1);
  // Stable per recipient: a retry carries the same Message-ID.
  m.message_id = "b" + std::to_string(b.id) + "." + std::to_string(outbox_id) + "@" + domain;
  m.date_unix = now;
  m.from = settings_.from;
  m.to = Mailbox{r.address, ""};
  m.envelope_from = settings_.envelope_from;
  m.list_unsubscribe_url = vars["unsubscribe_url"];
  m.list_unsubscribe_mailto = settings_.list_unsubscribe_mailto;
  m.list_id = settings_.list_id;
  m.extra_headers.emplace_back("Feedback-ID",
                               std::to_string(b.id) + ":broadcast" + settings_.feedback_id_tail);
  std::map<std::string, std::string> outer = vars;
  outer["subject"] = p.subject ? p.subject->render(vars) : std::string();
  outer["body_text"] = p.text->render(vars);
  if (p.html) {
    outer["body_html"] = p.html->render(vars);
    outer["has_body_html"] = "1";
  }
  auto c = composer_.email("broadcast", outer);
  m.subject = std::move(c.subject);
  m.text = std::move(c.text);
  m.html = std::move(c.html);
  return m;
}

OutboundSms BroadcastComposer::sms(const Prepared& p, const Recipient& r, std::int64_t outbox_id,
                                   bool sample) const {
  OutboundSms m;
  m.outbox_id = outbox_id;
  m.to = r.address;
  auto vars = vars_for(r, sample);
  m.body = with_opt_out_footer(p.text->render(vars));
  const int cap = settings_.sms_max_segments;
  if (cap <= 0 || count_sms_segments(m.body).segments <= cap) return m;
  // Only a name can make it longer than create counted: one outside GSM-7
  // turns the whole text into UCS-2 (70 characters a segment, not 160), and
  // one beyond the BMP takes two units a character. Without it, its
  // {{^first_name}} fallback in place, the text fits as create checked.
  vars["first_name"].clear();
  m.body = with_opt_out_footer(p.text->render(vars));
  const auto seg = count_sms_segments(m.body);
  if (seg.segments > cap)
    throw std::runtime_error("broadcast " + std::to_string(p.broadcast->id) + " takes " +
                             std::to_string(seg.segments) +
                             " segments even without the recipient's name; at most " +
                             std::to_string(cap) + " are allowed (SC_SMS_MAX_SEGMENTS)");
  return m;
}

std::shared_ptr<const BroadcastComposer::Prepared> BroadcastComposer::cached(
    std::int64_t id) const {
  std::lock_guard lk(mu_);
  if (auto it = cache_.find(id); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  auto loaded = loader_(id);
  if (!loaded) throw std::runtime_error("broadcast " + std::to_string(id) + " is gone");
  auto p = std::make_shared<const Prepared>(prepare(std::move(*loaded)));
  lru_.emplace_front(id, p);
  cache_[id] = lru_.begin();
  cache_bytes_ += p->bytes;
  // The newest stays even when it alone is over the bytes: the broadcast
  // being sent needs it.
  while (lru_.size() > 1 &&
         (lru_.size() > settings_.cache_broadcasts || cache_bytes_ > settings_.cache_bytes)) {
    cache_bytes_ -= lru_.back().second->bytes;
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return p;
}

std::size_t BroadcastComposer::cached_broadcasts() const {
  std::lock_guard lk(mu_);
  return lru_.size();
}

std::size_t BroadcastComposer::cached_bytes() const {
  std::lock_guard lk(mu_);
  return cache_bytes_;
}

void BroadcastComposer::compose(ClaimedMessage& m, std::int64_t now) const {
  const auto p = cached(m.broadcast_id);
  if (m.kind == OutboxKind::kEmail) {
    Recipient r{m.channel_id, m.email.to.address, m.email.template_vars["first_name"]};
    m.email = email(*p, r, m.id, now, false);
  } else {
    Recipient r{m.channel_id, m.sms.to, m.sms.template_vars["first_name"]};
    m.sms = sms(*p, r, m.id, false);
  }
}

namespace {
std::string_view sender_domain(std::string_view from_address) {
  return from_address.substr(from_address.rfind('@') + 1);
}
}  // namespace

std::string broadcast_list_id(std::string_view org_name, std::string_view from_address) {
  std::string name;
  for (char ch : org_name)
    if (ch != '<' && ch != '>' && ch != '"' && ch != '\r' && ch != '\n') name += ch;
  return name + " <broadcasts." + std::string(sender_domain(from_address)) + ">";
}

std::string broadcast_feedback_id_tail(std::string_view from_address) {
  return ":stayconnected:" + std::string(sender_domain(from_address));
}

}  // namespace sc

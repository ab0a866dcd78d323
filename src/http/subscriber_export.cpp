// GET /api/v1/admin/subscribers/export?format=csv|jsonl: every subscriber
// with every channel's state, dates and consent evidence, and their topics,
// streamed a page at a time (a million rows never sit in memory).
#include <cstdint>
#include <memory>
#include <string>

#include "routes.h"
#include "sc/core/broadcast.h"
#include "sc/core/subscriber_list.h"

namespace sc::detail {

namespace {

using nlohmann::json;

constexpr int kExportPage = 1000;

// One set of columns per channel kind, in this order, after the subscriber's own.
constexpr const char* kChannelColumns[] = {
    "state",      "created_at",           "changed_at",   "consented_at",    "consent_source",
    "consent_ip", "consent_text_version", "confirmed_at", "unsubscribed_at", "unsubscribe_source"};

std::string csv_header() {
  std::string h = "id,created_at,first_name,postal_code,topics,email";
  for (const char* c : kChannelColumns) h += std::string(",email_") + c;
  h += ",phone";
  for (const char* c : kChannelColumns) h += std::string(",sms_") + c;
  return h + "\r\n";
}

std::string joined_topics(const std::vector<std::string>& topics) {
  std::string out;
  for (const auto& t : topics) out += (out.empty() ? "" : ";") + t;
  return out;
}

void csv_channel(std::string& out, const ExportedChannel* c) {
  if (c == nullptr) {
    out += std::string(std::size(kChannelColumns) + 1, ',');  // the address too
    return;
  }
  const auto& v = c->channel;
  const auto& e = c->evidence;
  out += "," + csv_field(v.address) + "," + to_string(v.state) + "," + time_csv(v.created_at) +
         "," + time_csv(v.updated_at) + "," + time_csv(e.granted_at) + "," +
         csv_field(e.grant_source) + "," + csv_field(e.grant_ip) + "," +
         csv_field(e.consent_text_version) + "," + time_csv(e.confirmed_at) + "," +
         time_csv(e.withdrawn_at) + "," + csv_field(e.withdraw_source);
}

const ExportedChannel* channel_of(const ExportedSubscriber& s, ChannelKind kind) {
  for (const auto& c : s.channels)
    if (c.channel.kind == kind) return &c;
  return nullptr;
}

std::string csv_row(const ExportedSubscriber& s) {
  std::string out = std::to_string(s.subscriber.id) + "," + time_csv(s.subscriber.created_at) +
                    "," + csv_field(s.subscriber.first_name) + "," +
                    csv_field(s.subscriber.postal_code) + "," + csv_field(joined_topics(s.topics));
  csv_channel(out, channel_of(s, ChannelKind::kEmail));
  csv_channel(out, channel_of(s, ChannelKind::kSms));
  return out + "\r\n";
}

json evidence_json(const ChannelEvidence& e) {
  json consent = nullptr;
  if (e.granted_at != 0) {
    consent = {{"at", time_json(e.granted_at)},
               {"source", e.grant_source},
               {"ip", e.grant_ip},
               {"text_version", e.consent_text_version}};
  }
  return consent;
}

std::string jsonl_row(const ExportedSubscriber& s) {
  json channels = json::array();
  for (const auto& c : s.channels) {
    channels.push_back(
        {{"channel", to_string(c.channel.kind)},
         {"address", c.channel.address},
         {"state", to_string(c.channel.state)},
         {"created_at", time_json(c.channel.created_at)},
         {"changed_at", time_json(c.channel.updated_at)},
         {"consent", evidence_json(c.evidence)},
         {"confirmed_at", time_json(c.evidence.confirmed_at)},
         {"unsubscribed_at", time_json(c.evidence.withdrawn_at)},
         {"unsubscribe_source",
          c.evidence.withdraw_source.empty() ? json(nullptr) : json(c.evidence.withdraw_source)}});
  }
  json row = {{"id", s.subscriber.id},
              {"created_at", time_json(s.subscriber.created_at)},
              {"first_name", s.subscriber.first_name},
              {"postal_code", s.subscriber.postal_code},
              {"topics", s.topics},
              {"channels", channels}};
  // Invalid UTF-8 stored before the rules (or by hand) is replaced, never fatal mid-stream.
  return row.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

void export_subscribers(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto who = authorize(env, req, res, Scope::kRead);
  if (!who) return;
  const std::string format = req.has_param("format") ? req.get_param_value("format") : "csv";
  if (format != "csv" && format != "jsonl")
    return env.respond.json_error(
        res, invalid("invalid_format", "format must be \"csv\" or \"jsonl\"", "format"));
  if (env.deps.subscriber_reads == nullptr)
    return env.respond.json_error(res, Error{ErrorCode::kUnsupported, "unsupported",
                                             "the subscriber list is not served here", ""});
  // Recorded before the first byte: who took everyone's data, and in which form.
  audit(env, *who, "subscribers.export", "all subscribers", req, format);
  const bool csv = format == "csv";
  const auto day = format_rfc3339(env.deps.clock.now_unix()).substr(0, 10);
  res.set_header("Content-Disposition",
                 "attachment; filename=\"subscribers-" + day + "." + format + "\"");
  res.set_chunked_content_provider(
      csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
      [reads = env.deps.subscriber_reads, csv, cursor = std::int64_t{0}, header = false](
          std::size_t, httplib::DataSink& sink) mutable {
        std::string out;
        if (csv && !header) out = csv_header();
        header = true;
        std::vector<ExportedSubscriber> page;
        try {
          page = reads->export_page(cursor, kExportPage);
        } catch (const std::exception&) {
          // The database failed mid-way: the stream ends without its last
          // chunk, so the client sees an incomplete export, never a short one.
          return false;
        }
        for (const auto& s : page) {
          out += csv ? csv_row(s) : jsonl_row(s);
          cursor = s.subscriber.id;
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (static_cast<int>(page.size()) < kExportPage) sink.done();
        return true;
      });
}

}  // namespace sc::detail

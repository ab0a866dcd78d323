#include "payload.h"

#include <nlohmann/json.hpp>

#include "sc/storage/storage.h"

namespace sc::storage::detail {

using nlohmann::json;

std::string to_json(const OutboundEmail& m) {
  json headers = json::array();
  for (const auto& [k, v] : m.extra_headers) headers.push_back({k, v});
  json j = {{"message_id", m.message_id},
            {"date", m.date_unix},
            {"from", {{"address", m.from.address}, {"name", m.from.display_name}}},
            {"to", {{"address", m.to.address}, {"name", m.to.display_name}}},
            {"envelope_from", m.envelope_from},
            {"reply_to", m.reply_to},
            {"subject", m.subject},
            {"text", m.text},
            {"html", m.html},
            {"list_unsubscribe_url", m.list_unsubscribe_url},
            {"list_unsubscribe_mailto", m.list_unsubscribe_mailto},
            {"list_id", m.list_id},
            {"headers", headers}};
  if (!m.template_name.empty()) {
    j["template"] = m.template_name;
    j["vars"] = m.template_vars;
  }
  return j.dump();
}

std::string to_json(const OutboundSms& m) {
  json j{{"to", m.to}, {"body", m.body}};
  if (!m.template_name.empty()) {
    j["template"] = m.template_name;
    j["vars"] = m.template_vars;
  }
  return j.dump();
}

OutboundEmail email_from_json(const std::string& s) {
  auto j = json::parse(s);
  OutboundEmail m;
  m.message_id = j.at("message_id").get<std::string>();
  m.date_unix = j.at("date").get<std::int64_t>();
  m.from = {j.at("from").at("address").get<std::string>(),
            j.at("from").at("name").get<std::string>()};
  m.to = {j.at("to").at("address").get<std::string>(), j.at("to").at("name").get<std::string>()};
  m.envelope_from = j.value("envelope_from", "");
  m.reply_to = j.value("reply_to", "");
  m.subject = j.at("subject").get<std::string>();
  m.text = j.at("text").get<std::string>();
  m.html = j.value("html", "");
  m.list_unsubscribe_url = j.value("list_unsubscribe_url", "");
  m.list_unsubscribe_mailto = j.value("list_unsubscribe_mailto", "");
  m.list_id = j.value("list_id", "");
  if (j.contains("headers")) {
    for (const auto& h : j.at("headers"))
      m.extra_headers.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
  }
  if (j.contains("template")) {
    m.template_name = j.at("template").get<std::string>();
    m.template_vars = j.at("vars").get<std::map<std::string, std::string>>();
  }
  return m;
}

OutboundSms sms_from_json(const std::string& s) {
  auto j = json::parse(s);
  OutboundSms m;
  m.to = j.at("to").get<std::string>();
  m.body = j.value("body", "");
  if (j.contains("template")) {
    m.template_name = j.at("template").get<std::string>();
    m.template_vars = j.at("vars").get<std::map<std::string, std::string>>();
  }
  return m;
}

}  // namespace sc::storage::detail

namespace sc::storage {

void decode_payload(ClaimedMessage& m) {
  if (m.payload.empty()) return;
  try {
    if (m.broadcast_id != 0) {
      // A ledger row holds only its recipient; the broadcast's content is
      // added per recipient by the BroadcastComposer.
      auto j = nlohmann::json::parse(m.payload);
      auto to = j.at("to").get<std::string>();
      auto first_name = j.value("first_name", "");
      if (m.kind == OutboxKind::kEmail) {
        m.email.to = Mailbox{to, ""};
        m.email.outbox_id = m.id;
        m.email.template_vars["first_name"] = first_name;
      } else {
        m.sms.to = to;
        m.sms.outbox_id = m.id;
        m.sms.template_vars["first_name"] = first_name;
      }
      m.payload.clear();
      return;
    }
    if (m.kind == OutboxKind::kEmail) {
      m.email = detail::email_from_json(m.payload);
      m.email.outbox_id = m.id;
    } else {
      m.sms = detail::sms_from_json(m.payload);
      m.sms.outbox_id = m.id;
    }
  } catch (const std::exception& e) {
    throw StorageError("outbox message " + std::to_string(m.id) +
                       " has a corrupt payload: " + e.what());
  }
  m.payload.clear();
}

}  // namespace sc::storage

#include "sc/core/inbound_text.h"

#include <string_view>

#include "sc/core/text.h"

namespace sc {
namespace {

constexpr std::size_t kMaxMessageIdLength = 64;  // Twilio's are 34

std::string param(const FormParams& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

const char* to_string(SmsKeyword k) {
  switch (k) {
    case SmsKeyword::kOptIn:
      return "opt_in";
    case SmsKeyword::kOptOut:
      return "opt_out";
    case SmsKeyword::kHelp:
      return "help";
    case SmsKeyword::kNone:
      break;
  }
  return "none";
}

InboundText interpret_inbound_text(const FormParams& params, const PhoneNormalizer* phones) {
  InboundText t;
  t.from = param(params, "From");
  if (phones != nullptr) {
    if (auto p = phones->normalize(t.from); p) t.from = p.value();
  }
  t.body = param(params, "Body");
  if (!text::is_valid_utf8(t.body)) t.body.clear();
  const auto opt_out_type = param(params, "OptOutType");
  if (opt_out_type.size() <= 16 && !text::has_control(opt_out_type) &&
      text::is_valid_utf8(opt_out_type))
    t.opt_out_type = opt_out_type;
  t.provider_answered = !opt_out_type.empty();
  const auto body = param(params, "Body");
  t.keyword = t.provider_answered ? sms_keyword_from_opt_out_type(opt_out_type)
                                  : classify_sms_keyword(body);
  t.plain_language = !t.provider_answered && t.keyword == SmsKeyword::kOptOut &&
                     classify_exact_sms_keyword(body) == SmsKeyword::kNone;
  // The id goes into the consent log as the proof: keep it only when it
  // looks like one.
  t.message_id = param(params, "MessageSid");
  if (t.message_id.size() > kMaxMessageIdLength || text::has_control(t.message_id) ||
      !text::is_valid_utf8(t.message_id)) {
    t.message_id.clear();
  }
  return t;
}

}  // namespace sc

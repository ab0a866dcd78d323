// What an inbound text (Twilio's inbound-message webhook) says, read from
// its form parameters: who sent it, the keyword it carries, and whether the
// provider has answered it already (Advanced Opt-Out).
#pragma once
#include <string>

#include "sc/core/ports/services.h"
#include "sc/core/sms_keywords.h"
#include "sc/core/webhook.h"

namespace sc {

struct InboundText {
  std::string from;  // E.164 when it normalises, else as sent
  SmsKeyword keyword = SmsKeyword::kNone;
  // The provider classified the message (OptOutType) and answered it
  // itself: record the change, send no second answer.
  bool provider_answered = false;
  // kOptOut read from plain language ("please stop texting me"), not from
  // an exact keyword: worth showing to an operator.
  bool plain_language = false;
  std::string message_id;    // MessageSid; "" when missing or implausible
  std::string body;          // the text as sent (kept in the consent log and for review)
  std::string opt_out_type;  // Twilio's OptOutType as sent ("" without Advanced Opt-Out)
};

// The stored name of a keyword: none, opt_in, opt_out, help.
const char* to_string(SmsKeyword k);

// Reads From, Body, OptOutType and MessageSid (the first of each). Twilio
// sends E.164 already; normalising all the same makes the number match the
// channel a form stored. phones may be null (texting not configured).
InboundText interpret_inbound_text(const FormParams& params, const PhoneNormalizer* phones);

}  // namespace sc

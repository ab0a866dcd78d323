// Internal to storage: outbox payloads as JSON.
#pragma once
#include <string>

#include "sc/core/message.h"

namespace sc::storage::detail {

std::string to_json(const OutboundEmail& m);
std::string to_json(const OutboundSms& m);
OutboundEmail email_from_json(const std::string& s);
OutboundSms sms_from_json(const std::string& s);

}  // namespace sc::storage::detail

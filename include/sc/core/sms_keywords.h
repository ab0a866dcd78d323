// Keywords in a text someone sends back (CTIA, TCPA as revised in 2025,
// Twilio's defaults): matched case-insensitively on the whole message with
// spaces and closing punctuation trimmed. A longer reply that clearly asks to
// stop ("Stop texting me", "take me off your list") also counts: a request
// to stop must not be missed for its wording (47 CFR 64.1200(a)(10), "any
// reasonable means"; sc/core/opt_out_phrases.h).
#pragma once
#include <string_view>

namespace sc {

enum class SmsKeyword { kNone, kOptIn, kOptOut, kHelp };

// The exact keyword, else kOptOut for a plain-language opt-out, else kNone.
SmsKeyword classify_sms_keyword(std::string_view body);
// The whole message as a keyword only (no plain-language reading).
SmsKeyword classify_exact_sms_keyword(std::string_view body);

// Twilio's OptOutType parameter (Advanced Opt-Out): STOP, START or HELP.
SmsKeyword sms_keyword_from_opt_out_type(std::string_view opt_out_type);

}  // namespace sc

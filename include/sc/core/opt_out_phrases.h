// Plain-language opt-outs: a short reply that clearly asks to stop getting
// texts, in words other than a keyword ("please stop texting me", "take me
// off your list", "no me manden más mensajes"). The FCC requires honouring
// a revocation made by any reasonable means (47 CFR 64.1200(a)(10)).
#pragma once
#include <string_view>

namespace sc {

// True when the reply asks to stop, in English, Spanish or French. Case,
// accents, punctuation and spacing do not matter. False for a stop word in
// another sense ("stop by the office", "what time does the bus stop", "I
// can't stop reading these"), for a request to keep receiving ("don't stop
// texting me", "please keep sending"), for a question about something else,
// and for messages longer than 30 words (those go to review, not to a
// guess). Exact keywords are classify_sms_keyword's job: START, YES and
// UNSTOP are never opt-outs there, whatever this says.
bool is_plain_language_opt_out(std::string_view text);

}  // namespace sc

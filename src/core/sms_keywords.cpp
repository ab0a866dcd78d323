#include "sc/core/sms_keywords.h"

#include <string>

#include "sc/core/opt_out_phrases.h"

namespace sc {
namespace {

// Opt-out: the FCC's list (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL,
// UNSUBSCRIBE), Twilio's (adds STOPALL, OPTOUT) and others seen in the wild.
constexpr std::string_view kOptOut[] = {"STOP",    "STOPALL", "STOP ALL", "UNSUBSCRIBE", "UNSUB",
                                        "CANCEL",  "END",     "QUIT",     "REVOKE",      "OPTOUT",
                                        "OPT OUT", "OPT-OUT", "REMOVE",   "ARRET"};
constexpr std::string_view kOptIn[] = {"YES", "Y", "START", "UNSTOP"};
constexpr std::string_view kHelp[] = {"HELP", "INFO"};

template <std::size_t N>
bool one_of(std::string_view word, const std::string_view (&list)[N]) {
  for (auto w : list) {
    if (w == word) return true;
  }
  return false;
}

// Upper-case ASCII, runs of white space as one space, trimmed, without
// closing punctuation ("Stop!" and " yes. " count).
std::string normalized(std::string_view body) {
  std::string out;
  bool space = false;
  for (char c : body) {
    const bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  while (!out.empty() && (out.back() == '.' || out.back() == '!' || out.back() == ' '))
    out.pop_back();
  return out;
}

}  // namespace

SmsKeyword classify_exact_sms_keyword(std::string_view body) {
  const auto text = normalized(body);
  if (one_of(text, kOptOut)) return SmsKeyword::kOptOut;
  if (one_of(text, kOptIn)) return SmsKeyword::kOptIn;
  if (one_of(text, kHelp)) return SmsKeyword::kHelp;
  return SmsKeyword::kNone;
}

SmsKeyword classify_sms_keyword(std::string_view body) {
  const auto exact = classify_exact_sms_keyword(body);
  if (exact != SmsKeyword::kNone) return exact;
  return is_plain_language_opt_out(body) ? SmsKeyword::kOptOut : SmsKeyword::kNone;
}

SmsKeyword sms_keyword_from_opt_out_type(std::string_view t) {
  const auto v = normalized(t);
  if (v == "STOP") return SmsKeyword::kOptOut;
  if (v == "START") return SmsKeyword::kOptIn;
  if (v == "HELP") return SmsKeyword::kHelp;
  return SmsKeyword::kNone;
}

}  // namespace sc

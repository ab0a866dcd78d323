#include "sc/core/consent_text.h"

namespace sc {

ConsentText make_consent_text(std::string_view channel, std::string_view rendered,
                              const std::function<std::string(std::string_view)>& sha256_hex) {
  ConsentText t;
  t.text = std::string(rendered);
  while (!t.text.empty() && (t.text.back() == '\n' || t.text.back() == ' ')) t.text.pop_back();
  t.sha256_hex = sha256_hex(t.text);
  t.version = std::string(channel) + "-" + t.sha256_hex.substr(0, 12);
  return t;
}

}  // namespace sc

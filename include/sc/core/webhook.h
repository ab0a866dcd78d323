// WebhookVerifier: the port that proves an inbound webhook came from the
// provider that claims to send it (Twilio's X-Twilio-Signature in
// production). Providers implement it; the HTTP layer only asks.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sc {

// A form body as received: every parameter, in order, repeats kept.
using FormParams = std::vector<std::pair<std::string, std::string>>;

class WebhookVerifier {
 public:
  virtual ~WebhookVerifier() = default;
  // url: the URL exactly as the provider requested it (the public base URL
  // plus path and query); params: every form parameter received.
  virtual bool verify(std::string_view url, const FormParams& params,
                      std::string_view signature) const = 0;
};

}  // namespace sc

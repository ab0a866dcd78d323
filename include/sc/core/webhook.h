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
  // The first parameter the provider gives a fixed shape whose value does
  // not have it ("" when all do, or when it fixes none). Asked after verify:
  // a signature over names and values run together (Twilio's) does not fix
  // where one value ends and the next name begins, so a captured request can
  // be re-cut into other parameters that verify all the same; ids of an exact
  // shape leave no boundary to move.
  virtual std::string malformed_param(const FormParams& params) const = 0;
};

}  // namespace sc

namespace sc {

// SignedPayloadVerifier: the port that proves a webhook body came from the
// provider that signed it over a timestamp and the raw body (SendGrid's
// Signed Event Webhook, ECDSA P-256 in production). Whether the timestamp
// is recent is the caller's to judge (see email_events.h).
class SignedPayloadVerifier {
 public:
  virtual ~SignedPayloadVerifier() = default;
  // timestamp: the timestamp header as received; body: the raw bytes, never
  // re-serialised; signature: the signature header as received (base64).
  virtual bool verify(std::string_view timestamp, std::string_view body,
                      std::string_view signature) const = 0;
};

}  // namespace sc

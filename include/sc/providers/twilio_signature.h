// X-Twilio-Signature: how Twilio signs the webhooks it sends (inbound texts,
// status callbacks). The string to sign is the URL exactly as Twilio requested
// it, followed by every form parameter sorted by name (byte order) as
// name + value, the values of a repeated name sorted and de-duplicated; the
// signature is base64(HMAC-SHA1(auth token, string)). A JSON body is not
// signed itself: the URL carries ?bodySHA256=<hex SHA-256 of the body>.
// Twilio signs some requests with the port and some without, so both forms
// of the URL are tried (as every official library does). Host and scheme
// case are kept: a signature over a lower-cased host is not accepted for a
// mixed-case one.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sc::providers {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// The signature of a form-encoded request at exactly this URL.
std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             const FormParams& params);

// True when `signature` is a valid X-Twilio-Signature for this form request.
// Every parameter received must be passed: Twilio adds new ones without notice.
bool twilio_form_signature_valid(std::string_view auth_token, std::string_view url,
                                 const FormParams& params, std::string_view signature);

// The same for a request with a JSON body: the URL must carry bodySHA256 and
// it must be the SHA-256 of `raw_body`.
bool twilio_json_signature_valid(std::string_view auth_token, std::string_view url,
                                 std::string_view raw_body, std::string_view signature);

// The URL with its port removed, and with the scheme's default port added
// when it has none (an explicit port is kept); both when they differ.
std::vector<std::string> twilio_url_variants(std::string_view url);

}  // namespace sc::providers

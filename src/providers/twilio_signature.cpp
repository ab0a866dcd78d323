#include "sc/providers/twilio_signature.h"

#include <algorithm>

#include "sc/core/text.h"
#include "sc/providers/crypto.h"

namespace sc::providers {
namespace {

// The value of `name` in the URL's query string, as written (not decoded).
std::string query_value(std::string_view url, std::string_view name) {
  auto q = url.find('?');
  if (q == std::string_view::npos) return {};
  auto query = url.substr(q + 1);
  if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string_view::npos)
      return std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return {};
}

bool any_variant_matches(std::string_view auth_token, std::string_view url,
                         const FormParams& params, std::string_view signature) {
  std::vector<std::string> candidates{std::string(url)};
  // A ' in the query reaches some of Twilio's signers as %27 (URL
  // normalisation); the raw form is tried first.
  if (url.find('\'') != std::string_view::npos) {
    std::string encoded;
    for (char c : url) encoded += c == '\'' ? std::string("%27") : std::string(1, c);
    candidates.push_back(std::move(encoded));
  }
  bool ok = false;
  for (const auto& c : candidates) {
    for (const auto& v : twilio_url_variants(c)) {
      // Every candidate is computed and compared: no early exit to time.
      ok = crypto::constant_time_equal(twilio_signature(auth_token, v, params), signature) || ok;
    }
  }
  return ok;
}

}  // namespace

std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             const FormParams& params) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  sorted.reserve(params.size());
  for (const auto& [k, v] : params) sorted.emplace_back(k, v);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string data(url);
  for (const auto& [k, v] : sorted) {
    data += k;
    data += v;
  }
  return crypto::base64(crypto::hmac_sha1(auth_token, data));
}

std::vector<std::string> twilio_url_variants(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {std::string(url)};
  const auto scheme = url.substr(0, scheme_end);
  const auto authority_start = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  const auto authority = url.substr(authority_start, authority_end - authority_start);
  const auto at = authority.rfind('@');
  const auto hostport_start = at == std::string_view::npos ? 0 : at + 1;
  const auto hostport = authority.substr(hostport_start);
  // A port follows the last ':' unless that ':' is inside an IPv6 literal.
  auto colon = hostport.rfind(':');
  if (colon != std::string_view::npos && hostport.find(']', colon) != std::string_view::npos)
    colon = std::string_view::npos;
  const auto before = url.substr(0, authority_start + hostport_start);
  const auto rest = url.substr(authority_end);
  std::string without_port, with_port;
  if (colon != std::string_view::npos) {
    without_port = std::string(before) + std::string(hostport.substr(0, colon)) + std::string(rest);
    with_port = std::string(url);
  } else {
    without_port = std::string(url);
    std::string port;
    if (text::iequals_ascii(scheme, "https"))
      port = ":443";
    else if (text::iequals_ascii(scheme, "http"))
      port = ":80";
    with_port = std::string(before) + std::string(hostport) + port + std::string(rest);
  }
  if (with_port == without_port) return {without_port};
  return {without_port, with_port};
}

bool twilio_form_signature_valid(std::string_view auth_token, std::string_view url,
                                 const FormParams& params, std::string_view signature) {
  if (auth_token.empty() || signature.empty()) return false;
  return any_variant_matches(auth_token, url, params, signature);
}

bool twilio_json_signature_valid(std::string_view auth_token, std::string_view url,
                                 std::string_view raw_body, std::string_view signature) {
  if (auth_token.empty() || signature.empty()) return false;
  const auto claimed = query_value(url, "bodySHA256");
  if (claimed.empty())
    return false;  // a JSON body is only trusted through its hash in the signed URL
  const bool body_ok = crypto::constant_time_equal(crypto::hex(crypto::sha256(raw_body)), claimed);
  const bool url_ok = any_variant_matches(auth_token, url, {}, signature);
  return body_ok && url_ok;
}

}  // namespace sc::providers

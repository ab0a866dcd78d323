// LibPhoneNormalizer: core's PhoneNormalizer over libphonenumber.
#pragma once
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/ports/services.h"

namespace sc::providers {

class LibPhoneNormalizer final : public PhoneNormalizer {
 public:
  static constexpr std::size_t kMaxInput = 32;
  // default_region: ISO 3166 code used when a number has no +country prefix.
  // allowed_regions: ISO codes the deployment texts (SC_SMS_COUNTRIES).
  LibPhoneNormalizer(std::string default_region, std::vector<std::string> allowed_regions);
  // E.164 ("+16502530000"), or invalid("invalid_phone" | "unsupported_country", …, "phone").
  Result<std::string> normalize(std::string_view raw) const override;

  // Parses "US, ca ,GB" into upper-case codes; fails (code "invalid_region")
  // on a code libphonenumber does not know.
  static Result<std::vector<std::string>> parse_region_list(std::string_view csv);
  static bool is_known_region(std::string_view region);

 private:
  std::string default_region_;
  std::set<std::string> allowed_;
};

}  // namespace sc::providers

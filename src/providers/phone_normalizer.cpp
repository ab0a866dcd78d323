#include "sc/providers/phone_normalizer.h"

#include <phonenumbers/phonenumberutil.h>

#include "sc/core/text.h"

namespace sc::providers {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

LibPhoneNormalizer::LibPhoneNormalizer(std::string default_region,
                                       std::vector<std::string> allowed_regions)
    : default_region_(upper(default_region)) {
  for (auto& r : allowed_regions) allowed_.insert(upper(r));
}

bool LibPhoneNormalizer::is_known_region(std::string_view region) {
  std::set<std::string> regions;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
  return regions.count(upper(region)) > 0;
}

Result<std::vector<std::string>> LibPhoneNormalizer::parse_region_list(std::string_view csv) {
  std::vector<std::string> out;
  while (true) {
    auto comma = csv.find(',');
    std::string code = upper(text::trim(csv.substr(0, comma)));
    if (!code.empty()) {
      if (!is_known_region(code))
        return invalid("invalid_region", "unknown region code \"" + code + "\"");
      out.push_back(code);
    }
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
  return out;
}

Result<std::string> LibPhoneNormalizer::normalize(std::string_view raw) const {
  // Bounded and control-free before libphonenumber sees it: its regexes are
  // not built for hostile input, and a number never needs either.
  if (raw.size() > kMaxInput) return invalid("invalid_phone", "phone number is too long", "phone");
  if (!text::is_valid_utf8(raw) || text::has_control(raw)) {
    return invalid("invalid_phone", "phone number contains invalid characters", "phone");
  }
  std::string_view trimmed = text::trim(raw);
  if (trimmed.empty()) return invalid("invalid_phone", "phone number is empty", "phone");

  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(std::string(trimmed), default_region_, &number) !=
      PhoneNumberUtil::NO_PARSING_ERROR) {
    return invalid("invalid_phone", "not a phone number", "phone");
  }
  if (!util.IsValidNumber(number))
    return invalid("invalid_phone", "not a valid phone number", "phone");
  std::string region;
  util.GetRegionCodeForNumber(number, &region);
  if (allowed_.count(region) == 0) {
    return invalid("unsupported_country", "we do not send text messages to numbers in this country",
                   "phone");
  }
  auto type = util.GetNumberType(number);
  if (type != PhoneNumberUtil::MOBILE && type != PhoneNumberUtil::FIXED_LINE_OR_MOBILE) {
    return invalid("invalid_phone", "this number cannot receive text messages", "phone");
  }
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

}  // namespace sc::providers

// A cheap check of an operator-written Mustache template (a broadcast's
// subject, text or HTML) before any parser sees it: one linear pass over its
// tags. A parser's memory grows with size times nesting depth (each section
// keeps a copy of its inner text), so size, depth and sections are bounded
// here first, and names no recipient has are refused instead of rendering
// empty.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/result.h"

namespace sc {

inline constexpr std::size_t kMaxTemplateBytes = 100'000;
inline constexpr int kMaxTemplateDepth = 8;
inline constexpr int kMaxTemplateSections = 100;

struct TemplateLimits {
  std::size_t max_bytes = kMaxTemplateBytes;
  int max_depth = kMaxTemplateDepth;        // sections inside sections
  int max_sections = kMaxTemplateSections;  // {{#x}} and {{^x}} in all
};

// variables: the names {{x}}, {{{x}}}, {{&x}}, {{#x}} and {{^x}} may use
// (and has_<name> for each); "." only inside a section. Empty: any name.
struct TemplateRules {
  TemplateLimits limits;
  std::vector<std::string> variables;
};

// nullopt when the template keeps the rules; otherwise an invalid-input
// Error with field `field` and one of these codes: too_long,
// template_too_deep, too_many_sections, unknown_variable (the message names
// the variable and lists the known ones) or invalid_template (a tag or
// section never closed, a section closed under another name, a partial, a
// bad delimiter change). Follows the tag syntax of kainjow mustache,
// delimiter changes ({{=<% %>=}}) included.
std::optional<Error> check_template(std::string_view src, const std::string& field,
                                    const TemplateRules& rules);

}  // namespace sc

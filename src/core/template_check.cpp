#include "sc/core/template_check.h"

#include <algorithm>

namespace sc {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// As the library trims a tag's contents (std::isspace in the "C" locale).
std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A name as a message shows it: at most 64 bytes, never cut inside a
// UTF-8 sequence (the message must stay valid UTF-8 for JSON).
std::string shown(std::string_view name) {
  if (name.size() <= 64) return std::string(name);
  std::size_t n = 64;
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  return std::string(name.substr(0, n)) + "…";
}

std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

// "{{=<% %>=}}": two delimiters without whitespace or '=', as the library
// accepts them.
bool set_delimiters(std::string_view contents, std::string& begin, std::string& end) {
  if (contents.size() < 5 || contents.back() != '=') return false;
  auto inner = trim(contents.substr(1, contents.size() - 2));
  auto space = inner.find(' ');
  if (space == std::string_view::npos) return false;
  auto rest = inner.find_first_not_of(' ', space + 1);
  if (rest == std::string_view::npos) return false;
  auto b = inner.substr(0, space), e = inner.substr(rest);
  auto valid = [](std::string_view d) {
    return !d.empty() &&
           std::none_of(d.begin(), d.end(), [](char c) { return c == '=' || is_space(c); });
  };
  if (!valid(b) || !valid(e)) return false;
  begin = std::string(b);
  end = std::string(e);
  return true;
}

}  // namespace

std::optional<Error> check_template(std::string_view src, const std::string& field,
                                    const TemplateRules& rules) {
  const auto& limits = rules.limits;
  if (src.size() > limits.max_bytes)
    return invalid("too_long",
                   field + " is longer than " + std::to_string(limits.max_bytes) + " bytes", field);
  auto syntax = [&](const std::string& what) {
    return invalid("invalid_template", field + " does not parse: " + what, field);
  };
  auto known = [&](std::string_view name, bool in_section) {
    if (rules.variables.empty()) return true;
    if (name == ".") return in_section;
    auto base = name.substr(0, 4) == "has_" ? name.substr(4) : name;
    return std::find(rules.variables.begin(), rules.variables.end(), name) !=
               rules.variables.end() ||
           std::find(rules.variables.begin(), rules.variables.end(), base) != rules.variables.end();
  };
  std::string begin = "{{", end = "}}";
  std::vector<std::string_view> open;  // the sections around the current tag
  int sections = 0;
  std::size_t pos = 0;
  while ((pos = src.find(begin, pos)) != std::string_view::npos) {
    const auto at = pos;
    auto contents_at = at + begin.size();
    // {{{name}}}, only while the delimiters are the braces.
    const bool triple =
        begin == "{{" && end == "}}" && contents_at < src.size() && src[contents_at] == '{';
    const std::string_view close_with = triple ? std::string_view("}}}") : std::string_view(end);
    if (triple) ++contents_at;
    const auto close = src.find(close_with, contents_at);
    if (close == std::string_view::npos)
      return syntax("the tag at byte " + std::to_string(at) + " is not closed");
    const auto contents = trim(src.substr(contents_at, close - contents_at));
    pos = close + close_with.size();
    if (!triple && !contents.empty() && contents.front() == '=') {
      if (!set_delimiters(contents, begin, end))
        return syntax("the delimiter change at byte " + std::to_string(at) + " is not valid");
      continue;
    }
    char kind = '&';  // a variable, escaped or not: the same rules
    std::string_view name = contents;
    if (!triple && !contents.empty() &&
        std::string_view("#^/>&!").find(contents.front()) != std::string_view::npos) {
      kind = contents.front();
      name = trim(contents.substr(1));
    }
    switch (kind) {
      case '!':
        break;
      case '>':
        return syntax("{{> " + shown(name) + "}} includes a partial; a broadcast cannot");
      case '/':
        if (open.empty()) return syntax("{{/" + shown(name) + "}} closes no section");
        if (open.back() != name)
          return syntax("{{/" + shown(name) + "}} closes {{#" + shown(open.back()) + "}}");
        open.pop_back();
        break;
      default: {  // a variable or a section
        if (!known(name, !open.empty())) {
          return invalid("unknown_variable",
                         field + " uses {{" + shown(name) +
                             "}}, which is not a variable; the variables are " +
                             listed(rules.variables),
                         field);
        }
        if (kind == '#' || kind == '^') {
          if (++sections > limits.max_sections)
            return invalid("too_many_sections",
                           field + " has more than " + std::to_string(limits.max_sections) +
                               " sections ({{#…}} and {{^…}})",
                           field);
          open.push_back(name);
          if (static_cast<int>(open.size()) > limits.max_depth)
            return invalid(
                "template_too_deep",
                field + " nests sections more than " + std::to_string(limits.max_depth) + " deep",
                field);
        }
      }
    }
  }
  if (!open.empty()) return syntax("{{#" + shown(open.back()) + "}} is never closed");
  return std::nullopt;
}

}  // namespace sc

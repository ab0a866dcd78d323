// The files of schema/ and templates/, compiled into the binary.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace sc::embedded {
// Path relative to the repository root -> bytes, e.g. "templates/pages/confirm.html.mustache".
const std::map<std::string, std::string_view>& files();
}  // namespace sc::embedded

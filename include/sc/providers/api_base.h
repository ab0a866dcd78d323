// The base URL of an HTTP provider's API (SC_*_API_BASE): scheme://host[:port]
// only, so the variable moves the host and never the path the provider
// documents.
#pragma once
#include <string>
#include <string_view>

#include "sc/core/result.h"

namespace sc::providers {

// Checks an API base: http(s)://host[:port] with nothing after but an
// optional "/", which is dropped. Fails with code "invalid_api_base", a
// message naming `variable` and field = `variable`.
Result<std::string> normalize_api_base(std::string_view base,
                                       std::string_view variable = "API base");

}  // namespace sc::providers

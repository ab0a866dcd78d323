// The consent text a channel's sign-up shows, as the consent log cites it.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "sc/core/model.h"

namespace sc {

// The rendered consent template without its trailing spaces and newlines,
// its SHA-256 (hex, from `sha256_hex`: core holds no hash) and its version,
// "<channel>-" + the hash's first 12 hex digits, so a changed text is a new
// version without anyone numbering it.
ConsentText make_consent_text(std::string_view channel, std::string_view rendered,
                              const std::function<std::string(std::string_view)>& sha256_hex);

}  // namespace sc

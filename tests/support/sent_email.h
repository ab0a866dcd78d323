// The emails a service under test sent through the file provider
// (SC_EMAIL_PROVIDER=file): reading them, decoding their bodies, and
// finding the links in them.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace sc::testing {

// Decodes a quoted-printable body (soft breaks and =XX escapes).
std::string decode_quoted_printable(const std::string& s);
// Reads every *.eml file of a directory, sorted by modification order.
std::vector<std::string> read_eml_files(const std::string& dir);
// Finds "<public>/confirm/<token>" style links in a decoded message.
std::optional<std::string> find_link(const std::string& decoded, const std::string& path_prefix);

}  // namespace sc::testing

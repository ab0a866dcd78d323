// `stayconnected --help` and `--version`.
#pragma once
#include <cstdio>
#include <string_view>

namespace sc {

// The usage text, then every variable with its default (the config table's).
void print_help(std::FILE* out);

// The version of CMake's project() (SC_VERSION), e.g. "0.1.0".
std::string_view version();

}  // namespace sc

// The version has one source, project() in CMakeLists.txt: --version prints
// what is written there.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "sc/app/app.h"
#include "sc/app/help.h"

namespace sc {
namespace {

std::string cmake_project_version() {
  std::ifstream in(std::string(SC_SOURCE_DIR) + "/CMakeLists.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  std::smatch m;
  const std::string text = ss.str();
  if (!std::regex_search(text, m, std::regex(R"(project\(stayconnected VERSION ([0-9.]+))")))
    return "";
  return m[1];
}

TEST(Version, IsTheOneInCMakeListsTxt) {
  const auto want = cmake_project_version();
  ASSERT_FALSE(want.empty()) << "no project(stayconnected VERSION ...) in CMakeLists.txt";
  EXPECT_EQ(version(), want);
}

TEST(Version, DashDashVersionPrintsIt) {
  std::string arg0 = "stayconnected", arg1 = "--version";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  const mode_t umask_before = ::umask(022);  // run_cli sets 077: put it back after
  testing::internal::CaptureStdout();
  const int code = run_cli(2, argv);
  ::umask(umask_before);
  const auto out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "stayconnected " + cmake_project_version() + "\n");
}

}  // namespace
}  // namespace sc

// The shipped deployment files as their own tools read them: the nginx
// upstream example for several instances with `nginx -t`, and the systemd
// unit with `systemd-analyze verify` (its commented credential lines too).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/nginx.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace sc::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kDeploy = std::string(SC_SOURCE_DIR) + "/deploy/";

TEST(DeployFiles, TheNginxUpstreamForSeveralInstancesPassesNginxTWithTheProxySettings) {
  ASSERT_FALSE(nginx_binary().empty()) << "nginx is not installed (scripts/install-deps.sh)";
  TempDir dir;
  // As the upstream file says: it replaces the site's upstream block, beside
  // the site's per-client zone and the proxy settings.
  const std::string http = "include " + kDeploy + "nginx/stayconnected-upstream.conf;\n" +
                           "limit_conn_zone $binary_remote_addr zone=sc_per_ip:1m;\n" +
                           "server {\n  listen 127.0.0.1:" + std::to_string(free_port()) +
                           ";\n  include " + kDeploy + "nginx/stayconnected-proxy.conf;\n}\n";
  auto r = nginx_check(dir.str("nginx"), http);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("test is successful"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("[warn]"), std::string::npos) << r.err;

  // The example names at least two instances, each passively checked.
  const auto upstream = slurp(kDeploy + "nginx/stayconnected-upstream.conf");
  const std::regex server(R"(\n\s*server\s+\S+:\d+ max_fails=\d+ fail_timeout=\d+s;)");
  EXPECT_GE(std::distance(std::sregex_iterator(upstream.begin(), upstream.end(), server),
                          std::sregex_iterator()),
            2)
      << upstream;
  EXPECT_NE(upstream.find("keepalive "), std::string::npos);
}

// systemd-analyze verify, on the unit as shipped and with every commented
// directive (#Key=value: the credential pairs) uncommented; the binary path pointed at
// one that exists here. Unknown or misspelt keys are only warnings to systemd:
// any output is a failure.
TEST(DeployFiles, TheSystemdUnitVerifiesAsShippedAndWithItsCredentialLines) {
  const std::string analyze = "/usr/bin/systemd-analyze";
  if (::access(analyze.c_str(), X_OK) != 0) GTEST_SKIP() << "systemd-analyze is not installed";
  const auto unit = slurp(kDeploy + "stayconnected.service");
  ASSERT_NE(unit.find("#LoadCredential=sc-secret:"), std::string::npos);
  ASSERT_NE(unit.find("After=network-online.target postgresql.service"), std::string::npos);
  const auto as_here = std::regex_replace(unit, std::regex("/usr/bin/stayconnected"), SC_BINARY);
  const auto uncommented = std::regex_replace(as_here, std::regex("\n#([A-Z][A-Za-z]*=)"), "\n$1");
  for (const auto& text : {as_here, uncommented}) {
    TempDir dir;
    std::ofstream(dir.str("stayconnected.service")) << text;
    auto r = run_binary(analyze, {"verify", dir.str("stayconnected.service")}, {});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(r.err + r.out, "") << text;
  }
}

}  // namespace
}  // namespace sc::testing

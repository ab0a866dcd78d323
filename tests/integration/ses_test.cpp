// The real binary with SC_EMAIL_PROVIDER=ses against a loopback SES that
// checks every SigV4 signature and SendEmail request: a sign-up's
// confirmation email goes out through SES and its link confirms.
#include "fakes/fake_ses.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class SesTest : public ServiceTest {
 protected:
  // The service holds keep-alive connections to the fake: stop it first so
  // the fake's shutdown does not wait for them.
  void TearDown() override {
    if (svc_) svc_->stop();
  }
  std::map<std::string, std::string> ses_env(const fakes::FakeSes& f) {
    return {{"SC_EMAIL_PROVIDER", "ses"},
            {"SC_SES_REGION", f.options().region},
            {"SC_SES_ACCESS_KEY_ID", f.options().access_key_id},
            {"SC_SES_SECRET_ACCESS_KEY", f.options().secret_access_key},
            {"SC_SES_API_BASE", f.base_url()}};
  }
  static std::string header_value(const std::string& eml, const std::string& name) {
    auto pos = eml.find("\r\n" + name + ": ");
    if (pos == std::string::npos) return {};
    pos += name.size() + 4;
    return eml.substr(pos, eml.find("\r\n", pos) - pos);
  }
  fakes::FakeSes fake;
};

TEST_F(SesTest, ConfirmationEmailGoesOutThroughSesAndItsLinkConfirms) {
  start(ses_env(fake));
  auto r =
      post_json("/api/v1/subscriptions", {{"email", "reader@example.org"}, {"first_name", "Zoë"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;

  ASSERT_TRUE(wait_for([&] { return fake.raw_messages().size() >= 1; })) << svc_->stderr_text();
  const auto body = fake.bodies().at(0);
  EXPECT_EQ(body["Destination"]["ToAddresses"], json({"reader@example.org"}));
  EXPECT_EQ(body["FromEmailAddress"], "news@test-org.example");
  const std::string eml = fake.raw_messages().at(0);
  EXPECT_EQ(header_value(eml, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(header_value(eml, "List-Unsubscribe")
                .rfind("<https://signup.test-org.example/unsubscribe/", 0),
            0u)
      << eml;
  const auto decoded = decode_quoted_printable(eml);
  EXPECT_NE(decoded.find("Hello Zoë"), std::string::npos);
  auto confirm = find_link(decoded, "/confirm/");
  ASSERT_TRUE(confirm) << decoded;

  auto p = cli_->Post(confirm->c_str(), {{"Accept", "text/html"}}, "",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  EXPECT_EQ(email_state("reader@example.org"), "confirmed");
  // The welcome message goes through SES too.
  ASSERT_TRUE(wait_for([&] { return fake.raw_messages().size() >= 2; })) << svc_->stderr_text();
  EXPECT_TRUE(fake.violations().empty()) << fake.violations().front();

  // The outbox recorded SES's answer: its provider name and its MessageId.
  ASSERT_TRUE(wait_for([&] { return db_inspect::outbox_counts(db()).sent == 2; }))
      << svc_->stderr_text();
  for (const auto& row : db_inspect::outbox_rows(db(), 0, 10)) {
    EXPECT_EQ(row.provider, "ses");
    EXPECT_EQ(row.provider_message_id.rfind("0102018c-fake-", 0), 0u) << row.provider_message_id;
  }
}

TEST_F(SesTest, SendTestEmailPrintsSesRefusal) {
  auto env = base_env();
  for (const auto& [k, v] : ses_env(fake)) env[k] = v;
  env["SC_SES_SECRET_ACCESS_KEY"] = "revoked-secret";
  auto r = run_binary(SC_BINARY, {"send-test-email", "operator@example.org"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("provider: ses"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result: permanent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("code: SignatureDoesNotMatch"), std::string::npos) << r.out;
  ASSERT_EQ(fake.violations().size(), 1u);
  EXPECT_EQ(fake.violations()[0].rfind("signature mismatch", 0), 0u) << fake.violations()[0];
}

TEST_F(SesTest, MissingSettingsStopTheStartWithOneLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SC_SES_REGION", "SC_SES_REGION"},
      {"SC_SES_ACCESS_KEY_ID", "SC_SES_ACCESS_KEY_ID"},
      {"SC_SES_SECRET_ACCESS_KEY", "SC_SES_SECRET_ACCESS_KEY"},
  };
  for (const auto& [drop, mentions] : cases) {
    auto env = base_env();
    for (const auto& [k, v] : ses_env(fake)) env[k] = v;
    env.erase(drop);
    env["SC_LISTEN"] = "127.0.0.1:0";
    auto r = run_binary(SC_BINARY, {"serve"}, env, std::chrono::seconds(10));
    EXPECT_EQ(r.exit_code, 2) << drop << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << drop << ": " << r.err;
    EXPECT_NE(r.err.find(mentions), std::string::npos) << drop << ": " << r.err;
  }
  EXPECT_EQ(fake.request_count(), 0u);
}

}  // namespace
}  // namespace sc::testing

// What comes back from Twilio and from the people we text, over the real
// binary (issue 10): replayed and retried inbound texts, the review list of
// texts that are no keyword and an operator's opt-out, the consent log of
// every text that changes or is answered, the status callback, and each
// answer Twilio's Create Message can give (through a checking fake).
#include <algorithm>

#include "fakes/fake_twilio.h"
#include "sc/providers/twilio_signature.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr const char* kPublic = "https://signup.test-org.example";
constexpr const char* kPhone = "+16502530000";
constexpr const char* kOtherPhone = "+16502530001";
constexpr const char* kEmptyTwiml =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

std::string form(const providers::FormParams& p) {
  std::string out;
  for (const auto& [k, v] : p) {
    if (!out.empty()) out += '&';
    out += httplib::detail::encode_query_param(k) + "=" + httplib::detail::encode_query_param(v);
  }
  return out;
}

class TwilioFeedbackTest : public ServiceTest {
 protected:
  std::string token_ = "twilio-auth-token-test";

  providers::FormParams inbound(const std::string& body, const std::string& sid,
                                const std::string& from = kPhone) {
    return {{"MessageSid", sid},
            {"AccountSid", fakes::FakeTwilio::kAccountSid},
            {"From", from},
            {"To", "+15005550006"},
            {"Body", body},
            {"NumMedia", "0"},
            {"SmsStatus", "received"},
            {"ApiVersion", "2010-04-01"}};
  }
  // Signed as Twilio signs: SC_PUBLIC_URL + path, every parameter.
  httplib::Result signed_post(const std::string& path, const providers::FormParams& p) {
    auto sig = providers::twilio_signature(token_, kPublic + path, p);
    return cli_->Post(path.c_str(), {{"X-Twilio-Signature", sig}}, form(p),
                      "application/x-www-form-urlencoded");
  }
  httplib::Result text(const providers::FormParams& p) {
    return signed_post("/webhooks/twilio/sms", p);
  }
  // A captured request re-cut: sorted as Twilio signs, with every parameter
  // after MessageSid up to and including `last` folded into MessageSid's
  // value ("SM…To+15005550006"). Its signature is the captured one, and it
  // still verifies.
  struct Folded {
    providers::FormParams params;
    std::string signature;
  };
  Folded fold(providers::FormParams captured, const std::string& path,
              const std::string& last = "To") {
    const auto signature = providers::twilio_signature(token_, kPublic + path, captured);
    std::sort(captured.begin(), captured.end());
    Folded out{{}, signature};
    std::size_t sid = 0;
    bool folding = false;
    for (const auto& [k, v] : captured) {
      if (folding) {
        out.params[sid].second += k + v;
        folding = k != last;
        continue;
      }
      out.params.emplace_back(k, v);
      if (k == "MessageSid") {
        sid = out.params.size() - 1;
        folding = true;
      }
    }
    EXPECT_EQ(providers::twilio_signature(token_, kPublic + path, out.params), signature)
        << "the fold must keep the signature valid, or the test shows nothing";
    return out;
  }
  // What the review captured: To sorts right after MessageSid.
  providers::FormParams capture(const std::string& body, const std::string& sid) {
    return {{"AccountSid", fakes::FakeTwilio::kAccountSid},
            {"ApiVersion", "2010-04-01"},
            {"Body", body},
            {"From", kPhone},
            {"MessageSid", sid},
            {"To", "+15005550006"}};
  }
  httplib::Result post_signed_as(const std::string& path, const Folded& f) {
    return cli_->Post(path.c_str(), {{"X-Twilio-Signature", f.signature}}, form(f.params),
                      "application/x-www-form-urlencoded");
  }
  httplib::Result status(const std::string& sid, const std::string& message_status,
                         const std::string& error_code = "") {
    providers::FormParams p{{"AccountSid", fakes::FakeTwilio::kAccountSid},
                            {"ApiVersion", "2010-04-01"},
                            {"From", "+15005550006"},
                            {"To", kPhone},
                            {"MessageSid", sid},
                            {"SmsSid", sid},
                            {"SmsStatus", message_status},
                            {"MessageStatus", message_status}};
    if (!error_code.empty()) p.emplace_back("ErrorCode", error_code);
    return signed_post("/webhooks/twilio/status", p);
  }
  httplib::Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }
  json lookup(const std::string& phone = kPhone) {
    auto a = cli_->Get(
        ("/api/v1/admin/subscribers?phone=" + httplib::detail::encode_query_param(phone)).c_str(),
        admin());
    return a && a->status == 200 ? json::parse(a->body) : json();
  }
  std::string state(const std::string& phone = kPhone) {
    auto j = lookup(phone);
    return j.is_null() || !j["channels"].contains("sms")
               ? ""
               : j["channels"]["sms"]["state"].get<std::string>();
  }
  std::size_t log_rows(const std::string& action, const std::string& phone = kPhone) {
    std::size_t n = 0;
    const auto subscriber = lookup(phone);  // kept: the loop reads into it
    for (const auto& row : subscriber["consent_log"]) n += row["action"] == action ? 1 : 0;
    return n;
  }
  void sign_up(const std::string& phone = kPhone) {
    auto r = post_json("/api/v1/subscriptions", {{"phone", phone}, {"sms_consent", true}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202);
  }
  using ServiceTest::db;
  std::string db(const std::string& sql) { return db_inspect::query_value(db(), sql); }
};

// ---- point 4: replay-proof inbound texts ----

TEST_F(TwilioFeedbackTest, ARetriedYesGetsOneWelcome) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  auto first = text(inbound("YES", sm_sid("yes1")));
  ASSERT_TRUE(first);
  EXPECT_NE(first->body.find("You are subscribed"), std::string::npos) << first->body;
  // Twilio retries when our answer was slow: same MessageSid, same signature.
  auto retry = text(inbound("YES", sm_sid("yes1")));
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 200);
  EXPECT_EQ(retry->body, kEmptyTwiml);  // no second welcome
  EXPECT_EQ(state(), "confirmed");
  EXPECT_EQ(log_rows("confirm"), 1u);
  EXPECT_EQ(log_rows("received"), 0u);
  EXPECT_EQ(count("inbound_texts"), 1);
}

TEST_F(TwilioFeedbackTest, ARetriedStopGetsOneConfirmation) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  ASSERT_TRUE(text(inbound("YES", sm_sid("yes1"))));
  auto stop = text(inbound("STOP", sm_sid("stop1")));
  ASSERT_TRUE(stop);
  EXPECT_NE(stop->body.find("You are unsubscribed"), std::string::npos) << stop->body;
  auto retry = text(inbound("STOP", sm_sid("stop1")));
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->body, kEmptyTwiml);  // one opt-out confirmation only (47 CFR 64.1200(a)(12))
  EXPECT_EQ(state(), "unsubscribed");
  EXPECT_EQ(log_rows("withdraw"), 1u);
  EXPECT_EQ(count("inbound_texts"), 2);
}

TEST_F(TwilioFeedbackTest, AnOldYesReplayedAfterStopStaysUnsubscribed) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  const auto captured = inbound("YES", sm_sid("captured"));
  ASSERT_TRUE(text(captured));
  ASSERT_TRUE(text(inbound("STOP", sm_sid("stop2"))));
  ASSERT_EQ(state(), "unsubscribed");
  const auto rows = lookup()["consent_log"].size();
  // The captured request, replayed byte for byte with its valid signature.
  auto replay = text(captured);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 200);
  EXPECT_EQ(replay->body, kEmptyTwiml);
  EXPECT_EQ(state(), "unsubscribed");
  EXPECT_EQ(lookup()["consent_log"].size(), rows);
  // Also across a restart: the sids are in the database, not in memory.
  restart();
  EXPECT_EQ(text(captured)->body, kEmptyTwiml);
  EXPECT_EQ(state(), "unsubscribed");
}

// A captured YES, re-cut so that To folds into MessageSid: the signature
// still verifies and the sid looks new, so before sids were held to Twilio's
// shape a number that had texted STOP went back to confirmed.
TEST_F(TwilioFeedbackTest, AFoldedYesAfterStopIs400AndStaysUnsubscribed) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  const auto captured = capture("YES", sm_sid("captured"));
  ASSERT_EQ(text(captured)->status, 200);
  ASSERT_EQ(state(), "confirmed");
  ASSERT_EQ(text(inbound("STOP", sm_sid("stop3")))->status, 200);
  ASSERT_EQ(state(), "unsubscribed");
  const auto rows = lookup()["consent_log"].size();
  const auto texts = count("inbound_texts");

  auto r = post_signed_as("/webhooks/twilio/sms", fold(captured, "/webhooks/twilio/sms"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_sid");
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "MessageSid");
  EXPECT_EQ(state(), "unsubscribed");
  EXPECT_EQ(lookup()["consent_log"].size(), rows);
  EXPECT_EQ(count("inbound_texts"), texts);
}

// The same attack the other way: a captured STOP, re-cut, must not
// unsubscribe a number that has texted YES since.
TEST_F(TwilioFeedbackTest, AFoldedStopAfterYesIs400AndStaysConfirmed) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  ASSERT_EQ(text(inbound("YES", sm_sid("yes4")))->status, 200);
  const auto captured = capture("STOP", sm_sid("stop4"));
  ASSERT_EQ(text(captured)->status, 200);
  ASSERT_EQ(state(), "unsubscribed");
  ASSERT_EQ(text(inbound("START", sm_sid("start4")))->status, 200);
  ASSERT_EQ(state(), "confirmed");
  const auto rows = lookup()["consent_log"].size();
  const auto texts = count("inbound_texts");

  auto r = post_signed_as("/webhooks/twilio/sms", fold(captured, "/webhooks/twilio/sms"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_sid");
  EXPECT_EQ(state(), "confirmed");
  EXPECT_EQ(lookup()["consent_log"].size(), rows);
  EXPECT_EQ(count("inbound_texts"), texts);
  EXPECT_EQ(log_rows("withdraw"), 1u);
}

// ---- point 5: texts that are no keyword, listed for review ----

TEST_F(TwilioFeedbackTest, UnrecognisedTextsAreListedAndAnOperatorCanMarkOneAsOptOut) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  ASSERT_TRUE(text(inbound("YES", sm_sid("k1"))));
  for (int i = 1; i <= 3; ++i) {
    auto r =
        text(inbound("who is this? #" + std::to_string(i), sm_sid("chat" + std::to_string(i))));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, kEmptyTwiml);
  }
  EXPECT_EQ(state(), "confirmed");
  auto page = cli_->Get("/api/v1/admin/inbound?limit=2", admin());
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  auto j = json::parse(page->body);
  ASSERT_EQ(j["items"].size(), 2u);  // newest first; the YES is a keyword, not listed
  EXPECT_EQ(j["items"][0]["body"], "who is this? #3");
  EXPECT_EQ(j["items"][0]["message_sid"], sm_sid("chat3"));
  EXPECT_EQ(j["items"][0]["from"], kPhone);
  // Times are RFC 3339 UTC strings (docs/api.md).
  EXPECT_TRUE(std::regex_match(j["items"][0]["received_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << j["items"][0]["received_at"];
  EXPECT_EQ(j["items"][1]["body"], "who is this? #2");
  // The next page is a URL to follow.
  ASSERT_TRUE(j["next"].is_string()) << j;
  auto next = cli_->Get(j["next"].get<std::string>().c_str(), admin());
  ASSERT_TRUE(next);
  auto rest = json::parse(next->body);
  ASSERT_EQ(rest["items"].size(), 1u);
  EXPECT_EQ(rest["items"][0]["body"], "who is this? #1");
  EXPECT_FALSE(rest.contains("next"));  // the last page

  const auto id = j["items"][0]["id"].get<std::int64_t>();
  const std::string path = "/api/v1/admin/inbound/" + std::to_string(id) + "/opt-out";
  auto no_key = cli_->Post(path.c_str(), "", "application/json");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  EXPECT_EQ(state(), "confirmed");
  // The YES before them (not listed: a keyword) is no request to stop: 409.
  const auto yes_id = rest["items"][0]["id"].get<std::int64_t>() - 1;
  const std::string yes_path = "/api/v1/admin/inbound/" + std::to_string(yes_id) + "/opt-out";
  ASSERT_EQ(db("SELECT body FROM inbound_texts WHERE id = " + std::to_string(yes_id)), "YES");
  auto keyword = cli_->Post(yes_path.c_str(), admin(), "", "application/json");
  ASSERT_TRUE(keyword);
  EXPECT_EQ(keyword->status, 409) << keyword->body;
  EXPECT_EQ(json::parse(keyword->body)["error"]["code"], "inbound_is_keyword");
  EXPECT_EQ(state(), "confirmed");
  auto marked = cli_->Post(path.c_str(), admin(), "", "application/json");
  ASSERT_TRUE(marked);
  ASSERT_EQ(marked->status, 200) << marked->body;
  EXPECT_EQ(json::parse(marked->body)["state"], "unsubscribed");
  EXPECT_EQ(json::parse(marked->body)["changed"], true);
  EXPECT_EQ(state(), "unsubscribed");
  auto log = lookup()["consent_log"];
  EXPECT_EQ(log.back()["action"], "withdraw");
  EXPECT_EQ(log.back()["source"], "admin");
  EXPECT_EQ(log.back()["message_sid"], sm_sid("chat3"));
  EXPECT_EQ(log.back()["text_received"], "who is this? #3");
  // Again: 200 with the state, and no second row.
  auto again = cli_->Post(path.c_str(), admin(), "", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body)["state"], "unsubscribed");
  EXPECT_EQ(json::parse(again->body)["changed"], false);
  EXPECT_EQ(lookup()["consent_log"].size(), log.size());
  auto listed = json::parse(cli_->Get("/api/v1/admin/inbound", admin())->body);
  EXPECT_EQ(listed["items"][0]["reviewed"]["action"], "opt_out");
  EXPECT_EQ(listed["items"][0]["reviewed"]["by"], "SC_ADMIN_API_KEY");
  // Unknown and malformed ids: 404, nothing changes.
  for (const char* bad : {"/api/v1/admin/inbound/999999/opt-out", "/api/v1/admin/inbound/x/opt-out",
                          "/api/v1/admin/inbound/0/opt-out"}) {
    auto r = cli_->Post(bad, admin(), "", "application/json");
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 404) << bad;
  }
  for (const char* bad : {"/api/v1/admin/inbound?limit=0", "/api/v1/admin/inbound?limit=abc",
                          "/api/v1/admin/inbound?limit=501", "/api/v1/admin/inbound?before=-1"}) {
    auto r = cli_->Get(bad, admin());
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 422) << bad;
  }
  EXPECT_EQ(lookup()["consent_log"].size(), log.size());
}

// ---- point 7: the consent log keeps every text that changes or is answered ----

TEST_F(TwilioFeedbackTest, ConsentLogKeepsTheTextItsSidHelpAdvancedOptOutAndUnknownNumbers) {
  start({{"SC_TWILIO_AUTH_TOKEN", token_}});
  sign_up();
  ASSERT_TRUE(text(inbound(" yes ", sm_sid("c1"))));
  ASSERT_TRUE(text(inbound("Help", sm_sid("c2"))));
  auto aoo = inbound("stop", sm_sid("c3"));
  aoo.emplace_back("OptOutType", "STOP");
  auto r = text(aoo);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, kEmptyTwiml);                   // Twilio answered it already
  ASSERT_TRUE(text(inbound("STOP", sm_sid("c4"))));  // answered again, changes nothing
  auto log = lookup()["consent_log"];
  ASSERT_EQ(log.size(), 5u) << log.dump();
  EXPECT_EQ(log[1]["action"], "confirm");
  EXPECT_EQ(log[1]["message_sid"], sm_sid("c1"));
  EXPECT_EQ(log[1]["text_received"], " yes ");
  EXPECT_EQ(log[1]["provider_answered"], false);
  EXPECT_EQ(log[2]["action"], "help");
  EXPECT_EQ(log[2]["message_sid"], sm_sid("c2"));
  EXPECT_EQ(log[2]["text_received"], "Help");
  EXPECT_EQ(log[3]["action"], "withdraw");
  EXPECT_EQ(log[3]["opt_out_type"], "STOP");
  EXPECT_EQ(log[3]["provider_answered"], true);
  EXPECT_EQ(log[4]["action"], "received");
  EXPECT_EQ(log[4]["message_sid"], sm_sid("c4"));

  // A STOP from a number nobody signed up: on record, shown by the lookup.
  ASSERT_TRUE(text(inbound("STOP", sm_sid("u1"), kOtherPhone)));
  ASSERT_TRUE(text(inbound("HELP", sm_sid("u2"), kOtherPhone)));
  auto unknown = lookup(kOtherPhone);
  ASSERT_FALSE(unknown.is_null());
  EXPECT_EQ(unknown["id"], 0);
  ASSERT_EQ(unknown["consent_log"].size(), 2u);
  EXPECT_EQ(unknown["consent_log"][0]["action"], "withdraw");
  EXPECT_EQ(unknown["consent_log"][0]["source"], "keyword");
  EXPECT_EQ(unknown["consent_log"][0]["message_sid"], sm_sid("u1"));
  EXPECT_EQ(unknown["consent_log"][0]["address"], kOtherPhone);
  EXPECT_EQ(unknown["consent_log"][1]["action"], "help");
  EXPECT_EQ(count("channels"), 1);  // nothing was created for it
}

// ---- point 1: the status callback ----

class TwilioStatusTest : public TwilioFeedbackTest {
 protected:
  fakes::FakeTwilio twilio;
  void TearDown() override {
    if (svc_) svc_->stop();  // before the fake, which waits for its connections
  }
  void start_with_twilio(std::map<std::string, std::string> extra = {}) {
    token_ = fakes::FakeTwilio::kAuthToken;
    twilio.expect_status_callback(std::string(kPublic) + "/webhooks/twilio/status");
    std::map<std::string, std::string> env{
        {"SC_SMS_PROVIDER", "twilio"},
        {"SC_TWILIO_ACCOUNT_SID", fakes::FakeTwilio::kAccountSid},
        {"SC_TWILIO_AUTH_TOKEN", fakes::FakeTwilio::kAuthToken},
        {"SC_TWILIO_FROM", "+15005550006"},
        {"SC_TWILIO_API_BASE", twilio.base_url()}};
    for (auto& [k, v] : extra) env[k] = v;
    start(env);
  }
  // The outbox row of the confirmation to `phone`, once it is finished.
  db_inspect::OutboxRow confirmation(const std::string& phone) {
    db_inspect::OutboxRow out;
    wait_for([&] {
      for (const auto& row : db_inspect::outbox_rows(db(), 0, 100)) {
        if (row.payload.find(phone) != std::string::npos &&
            (row.state == "sent" || row.state == "failed")) {
          out = row;
          return true;
        }
      }
      return false;
    });
    return out;
  }
  std::string delivery(std::int64_t id) {
    return db(
        "SELECT COALESCE(delivery_state, '') || '/' || COALESCE(delivery_code, '')"
        " FROM outbox WHERE id = " +
        std::to_string(id));
  }
  std::string metric(const std::string& series) {
    auto m = cli_->Get("/metrics", admin());
    if (!m) return "";
    auto at = m->body.find(series + " ");
    if (at == std::string::npos) return "";
    auto end = m->body.find('\n', at);
    return m->body.substr(at + series.size() + 1, end - at - series.size() - 1);
  }
};

TEST_F(TwilioStatusTest, DeliveryStatesMoveOnlyForwardAndUnknownSidsChangeNothing) {
  start_with_twilio();
  sign_up();
  auto row = confirmation(kPhone);
  ASSERT_EQ(row.state, "sent") << svc_->stderr_text();
  EXPECT_TRUE(twilio.violations().empty()) << twilio.violations().front();
  ASSERT_EQ(twilio.received().size(), 1u);
  EXPECT_EQ(twilio.received()[0].status_callback, std::string(kPublic) + "/webhooks/twilio/status");
  const auto sid = row.provider_message_id;
  ASSERT_FALSE(sid.empty());

  for (const char* s : {"queued", "sent", "delivered"}) {
    auto r = status(sid, s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << s;
  }
  EXPECT_EQ(delivery(row.id), "delivered/");
  // Out of order and repeated: a late "sent", "sending", or "delivered" again.
  for (const char* s : {"sent", "sending", "delivered", "undelivered"}) {
    auto r = status(sid, s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << s;
  }
  EXPECT_EQ(delivery(row.id), "delivered/");
  EXPECT_EQ(metric("sc_deliveries_total{provider=\"twilio\",state=\"delivered\"}"), "1");

  // A sid that is not ours: 200 (Twilio would retry otherwise), nothing changes.
  auto unknown = status("SMffffffffffffffffffffffffffffffff", "delivered");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 200);
  EXPECT_EQ(metric("sc_deliveries_total{provider=\"twilio\",state=\"delivered\"}"), "1");

  // Our sid with the rest of a signed callback folded into it: 400.
  auto folded = post_signed_as("/webhooks/twilio/status",
                               fold({{"AccountSid", fakes::FakeTwilio::kAccountSid},
                                     {"ErrorCode", "30006"},
                                     {"MessageSid", sid},
                                     {"MessageStatus", "undelivered"},
                                     {"To", kPhone}},
                                    "/webhooks/twilio/status", "MessageStatus"));
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->status, 400);
  EXPECT_EQ(json::parse(folded->body)["error"]["code"], "invalid_sid");
  EXPECT_EQ(delivery(row.id), "delivered/");

  // Unsigned or wrongly signed: 403, nothing recorded.
  auto unsigned_post = cli_->Post(
      "/webhooks/twilio/status", "MessageSid=" + sid + "&MessageStatus=undelivered&ErrorCode=30006",
      "application/x-www-form-urlencoded");
  ASSERT_TRUE(unsigned_post);
  EXPECT_EQ(unsigned_post->status, 403);
  token_ = "another-token";
  auto forged = status(sid, "undelivered", "30006");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  EXPECT_EQ(state(), "pending");
}

TEST_F(TwilioStatusTest, Undelivered30006MakesTheNumberUndeliverable30003DoesNot) {
  start_with_twilio();
  sign_up(kPhone);
  sign_up(kOtherPhone);
  auto landline = confirmation(kPhone);
  auto off = confirmation(kOtherPhone);
  ASSERT_EQ(landline.state, "sent");
  ASSERT_EQ(off.state, "sent");
  ASSERT_EQ(status(landline.provider_message_id, "undelivered", "30006")->status, 200);
  ASSERT_EQ(status(off.provider_message_id, "undelivered", "30003")->status, 200);
  EXPECT_EQ(delivery(landline.id), "undelivered/30006");
  EXPECT_EQ(delivery(off.id), "undelivered/30003");
  EXPECT_EQ(state(kPhone), "undeliverable");
  EXPECT_EQ(state(kOtherPhone), "pending");  // a handset that is off may be on tomorrow
  auto log = lookup(kPhone)["consent_log"];
  EXPECT_EQ(log.back()["action"], "undeliverable");
  EXPECT_EQ(log.back()["source"], "provider");
  EXPECT_EQ(log.back()["detail"], "twilio 30006 " + landline.provider_message_id);
  EXPECT_EQ(metric("sc_deliveries_total{provider=\"twilio\",state=\"undelivered\"}"), "2");
  // The same report again changes nothing more.
  ASSERT_EQ(status(landline.provider_message_id, "undelivered", "30006")->status, 200);
  EXPECT_EQ(lookup(kPhone)["consent_log"].size(), log.size());
  // 30450 (Twilio's pumping protection) is final for that message only.
  sign_up("+16502530002");
  auto blocked = confirmation("+16502530002");
  ASSERT_EQ(status(blocked.provider_message_id, "failed", "30450")->status, 200);
  EXPECT_EQ(delivery(blocked.id), "failed/30450");
  EXPECT_EQ(state("+16502530002"), "pending");
  EXPECT_EQ(twilio.requests(), 3u);  // nothing was sent again
}

// ---- point 8: each answer of Create Message, through the running service ----

TEST_F(TwilioStatusTest, TooManyRequestsAndUnavailableAreRetried) {
  start_with_twilio();
  twilio.script_sequence(
      kPhone, {fakes::FakeTwilio::error(429, 20429, "Too Many Requests", {{"Retry-After", "1"}}),
               fakes::FakeTwilio::Answer{}});
  twilio.script_sequence(kOtherPhone, {fakes::FakeTwilio::error(503, 20503, "Service Unavailable"),
                                       fakes::FakeTwilio::Answer{}});
  sign_up(kPhone);
  sign_up(kOtherPhone);
  ASSERT_TRUE(wait_for([&] { return twilio.requests() >= 4; }, std::chrono::seconds(20)))
      << twilio.requests();
  auto a = confirmation(kPhone);
  auto b = confirmation(kOtherPhone);
  EXPECT_EQ(a.state, "sent");
  EXPECT_EQ(a.attempts, 2);
  EXPECT_EQ(b.state, "sent");
  EXPECT_EQ(b.attempts, 2);
  EXPECT_EQ(twilio.requests(), 4u);
  EXPECT_TRUE(twilio.violations().empty()) << twilio.violations().front();
}

TEST_F(TwilioStatusTest, OptedOutAtTwilioUnsubscribesInvalidNumberFailsForGood) {
  start_with_twilio();
  twilio.script(kPhone,
                fakes::FakeTwilio::error(400, 21610, "Attempt to send to unsubscribed recipient"));
  twilio.script(kOtherPhone, fakes::FakeTwilio::error(400, 21211, "Invalid 'To' Phone Number"));
  sign_up(kPhone);
  sign_up(kOtherPhone);
  auto stopped = confirmation(kPhone);
  auto invalid_number = confirmation(kOtherPhone);
  EXPECT_EQ(stopped.state, "failed");
  EXPECT_EQ(stopped.last_code, "21610");
  EXPECT_EQ(invalid_number.state, "failed");
  EXPECT_EQ(invalid_number.last_code, "21211");
  EXPECT_EQ(invalid_number.attempts, 1);  // permanent: never retried
  ASSERT_TRUE(wait_for([&] { return state(kPhone) == "unsubscribed"; }));
  EXPECT_EQ(twilio.requests(), 2u);
}

TEST_F(TwilioStatusTest, AConfirmationWhoseAnswerNeverCameIsSentAgain) {
  start_with_twilio({{"SC_TWILIO_TIMEOUT_SECONDS", "1"}});
  fakes::FakeTwilio::Answer hang;
  hang.hang = true;
  twilio.script_sequence(kPhone, {hang, fakes::FakeTwilio::Answer{}});
  sign_up(kPhone);
  // Twilio may have taken the first request (ambiguous): a confirmation is
  // sent at least once, so it goes again.
  ASSERT_TRUE(wait_for([&] { return twilio.requests() >= 2; }, std::chrono::seconds(20)))
      << svc_->stderr_text();
  auto row = confirmation(kPhone);
  EXPECT_EQ(row.state, "sent");
  EXPECT_EQ(row.attempts, 2);
  EXPECT_EQ(twilio.requests(), 2u);
  EXPECT_TRUE(twilio.violations().empty()) << twilio.violations().front();
}

// The dispatcher acts on SendResult::recipient_undeliverable (issue 10, point 2).
TEST_F(TwilioStatusTest, InvalidNumberAtSendTimeBecomesUndeliverable) {
  start_with_twilio();
  twilio.script(kPhone, fakes::FakeTwilio::error(400, 21614, "'To' is not a valid mobile number"));
  sign_up(kPhone);
  auto row = confirmation(kPhone);
  EXPECT_EQ(row.last_code, "21614");
  ASSERT_TRUE(wait_for([&] { return state(kPhone) == "undeliverable"; }));
  EXPECT_EQ(lookup(kPhone)["consent_log"].back()["source"], "provider");
}

}  // namespace
}  // namespace sc::testing

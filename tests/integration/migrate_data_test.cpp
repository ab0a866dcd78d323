// `stayconnected migrate-data --from FILE --to URL` over the real binary: a
// SQLite installation used as an operator would (sign-ups on both channels,
// confirmations, an unsubscribe, a broadcast, admin keys and their audit
// entries, inbound texts) copied into a real PostgreSQL database; refusals;
// a failure half-way; a link mailed before the move confirms after it.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>

#include "fakes/fake_twilio.h"
#include "sc/providers/twilio_signature.h"
#include "sc/storage/copy.h"
#include "service_fixture.h"
#include "support/pg_cluster.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "twilio-auth-token-test";

using Rows = std::vector<std::vector<std::optional<std::string>>>;

// Every row of a table, sorted (the two databases need not agree on the
// order of text keys).
Rows table_rows(const std::string& db, const std::string& table) {
  auto rows = db_inspect::rows(db, "SELECT * FROM " + table);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// The "table source target seconds" lines migrate-data prints.
std::map<std::string, std::pair<std::int64_t, std::int64_t>> printed_counts(
    const std::string& out) {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> counts;
  static const std::regex kLine(R"(^([a-z_]+) +(\d+) +(\d+) +\d+\.\d$)");
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kLine))
      counts[m[1]] = {std::stoll(m[2].str()), std::stoll(m[3].str())};
  }
  return counts;
}

std::size_t lines_of(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

class MigrateDataTest : public ServiceTest {
 protected:
  void SetUp() override {
    // Its source is a SQLite file and its target PostgreSQL on either run.
    if (on_postgres()) GTEST_SKIP() << "moves a SQLite installation: the same test as on SQLite";
    ServiceTest::SetUp();
  }
  std::string sqlite() { return dir_.str("data/sc.db"); }

  // The service on SQLite without SC_SECRET: it signs with the secret.key it
  // generates beside the database, as a default installation does.
  std::map<std::string, std::string> sqlite_env() {
    auto env = base_env();
    env.erase("SC_SECRET");
    env["SC_TWILIO_AUTH_TOKEN"] = kToken;
    return env;
  }

  void start_with(const std::map<std::string, std::string>& env) {
    svc_ = std::make_unique<ServiceProcess>(SC_BINARY, env);
    ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
    cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
    cli_->set_read_timeout(10, 0);
  }

  RunResult migrate_data(const std::string& from, const std::string& to) {
    return run_binary(SC_BINARY, {"migrate-data", "--from", from, "--to", to}, base_env(),
                      std::chrono::seconds(120));
  }

  httplib::Result text(const std::string& from, const std::string& body, const std::string& sid) {
    const providers::FormParams p = {{"MessageSid", sid},
                                     {"AccountSid", fakes::FakeTwilio::kAccountSid},
                                     {"From", from},
                                     {"To", "+15005550006"},
                                     {"Body", body},
                                     {"NumMedia", "0"},
                                     {"ApiVersion", "2010-04-01"}};
    std::string form;
    for (const auto& [k, v] : p)
      form += (form.empty() ? "" : "&") + httplib::detail::encode_query_param(k) + "=" +
              httplib::detail::encode_query_param(v);
    const std::string path = "/webhooks/twilio/sms";
    const auto sig =
        providers::twilio_signature(kToken, "https://signup.test-org.example" + path, p);
    return cli_->Post(path.c_str(), {{"X-Twilio-Signature", sig}}, form,
                      "application/x-www-form-urlencoded");
  }

  // The confirm link of the newest confirmation mailed to `to`.
  std::string confirm_link_for(const std::string& to) {
    std::string link;
    for (const auto& eml : emails()) {
      if (eml.find("To: <" + to + ">") == std::string::npos) continue;
      if (auto l = find_link(decode_quoted_printable(eml), "/confirm/")) link = *l;
    }
    return link;
  }

  httplib::Result api_post(const std::string& path, const json& body, const std::string& key) {
    return cli_->Post(path.c_str(), {{"Authorization", "Bearer " + key}}, body.dump(),
                      "application/json");
  }

  // A SQLite installation with a row in every table. Leaves the service
  // stopped; returns the confirm link of a sign-up not yet confirmed.
  std::string populate() {
    auto env = sqlite_env();
    EXPECT_EQ(run_binary(SC_BINARY, {"migrate"}, env).exit_code, 0);
    auto key = run_binary(SC_BINARY, {"keys", "create", "--name", "ops", "--scope", "admin"}, env);
    EXPECT_EQ(key.exit_code, 0) << key.err;
    std::string admin_key = key.out.substr(0, key.out.find('\n'));
    EXPECT_EQ(run_binary(SC_BINARY, {"keys", "create", "--name", "gone", "--scope", "read"}, env)
                  .exit_code,
              0);
    EXPECT_EQ(run_binary(SC_BINARY, {"keys", "revoke", "gone"}, env).exit_code, 0);
    start_with(env);

    for (int i = 0; i < 4; ++i) {
      // A name with an apostrophe and a non-ASCII letter.
      const json body = {{"email", "reader" + std::to_string(i) + "@example.org"},
                         {"first_name", std::string("Zoë O'Neil-") + char('a' + i)},
                         {"topics", {"news"}}};
      auto r = post_json("/api/v1/subscriptions", body);
      EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "");
    }
    EXPECT_TRUE(wait_emails(4)) << svc_->stderr_text();
    for (int i = 0; i < 3; ++i) {  // reader3 stays pending
      auto link = confirm_link_for("reader" + std::to_string(i) + "@example.org");
      auto p = cli_->Post(link.c_str(), "", "application/x-www-form-urlencoded");
      EXPECT_TRUE(p && p->status == 200) << link;
    }
    EXPECT_TRUE(wait_emails(7));  // and the welcome messages
    // An unsubscribe.
    for (const auto& eml : emails()) {
      if (eml.find("To: <reader2@example.org>") == std::string::npos) continue;
      if (auto u = find_link(decode_quoted_printable(eml), "/unsubscribe/")) {
        auto r = cli_->Post(u->c_str(), "List-Unsubscribe=One-Click",
                            "application/x-www-form-urlencoded");
        EXPECT_TRUE(r && r->status == 200);
        break;
      }
    }
    EXPECT_EQ(email_state("reader2@example.org"), "unsubscribed");
    // A form naming a confirmed address with a new topic: the topic waits
    // for its owner (topic_requests).
    EXPECT_EQ(post_json("/api/v1/subscriptions",
                        {{"email", "reader0@example.org"}, {"topics", {"sport"}}})
                  ->status,
              202);
    // SMS: a sign-up confirmed by YES, another pending; an unknown text.
    for (const auto* phone : {"+16502530000", "+16502530001"}) {
      auto r = post_json("/api/v1/subscriptions", {{"phone", phone}, {"sms_consent", true}});
      EXPECT_TRUE(r && r->status == 202);
    }
    for (const auto& [from, body] : {std::pair{"+16502530000", "YES"},
                                     std::pair{"+16502530009", "what is\tthis\\\nsecond line"}}) {
      auto t = text(from, body, sm_sid(body));
      EXPECT_TRUE(t && t->status == 200) << (t ? t->body : "");
    }
    // A broadcast, sent to the confirmed email readers, by the key made above.
    auto b = api_post("/api/v1/admin/broadcasts",
                      {{"channel", "email"},
                       {"subject", "News"},
                       {"text", "Hello {{first_name}}"},
                       {"topics", {"news"}}},
                      admin_key);
    EXPECT_TRUE(b && b->status == 201) << (b ? b->body : "");
    const auto id = json::parse(b->body)["id"].get<std::int64_t>();
    auto s =
        api_post("/api/v1/admin/broadcasts/" + std::to_string(id) + "/send", json(), admin_key);
    EXPECT_TRUE(s && s->status == 200);
    EXPECT_TRUE(wait_for([&] {
      return db_inspect::query_value(sqlite(), "SELECT status FROM broadcasts") == "completed";
    })) << svc_->stderr_text();
    // Someone erased: the suppression list and the pseudonymous proof.
    EXPECT_EQ(post_json("/api/v1/subscriptions", {{"email", "gone@example.org"}})->status, 202);
    const auto gone = admin_lookup("gone@example.org");
    EXPECT_FALSE(gone.is_null());
    auto erased =
        cli_->Delete(("/api/v1/admin/subscribers/" + std::to_string(gone.value("id", 0))).c_str(),
                     {{"Authorization", std::string("Bearer ") + kAdminKey}});
    EXPECT_TRUE(erased && erased->status == 204);
    // An import with a refused row (its verdict is kept).
    auto imported = cli_->Post("/api/v1/admin/imports?mode=pending",
                               {{"Authorization", std::string("Bearer ") + kAdminKey}},
                               "email\nimported@example.org\nnot-an-email\n", "text/csv");
    EXPECT_TRUE(imported && imported->status == 202);
    EXPECT_TRUE(wait_for([&] {
      return db_inspect::query_value(sqlite(), "SELECT status FROM imports") == "completed";
    }));
    // A sign-up whose link is mailed now and clicked only after the move.
    EXPECT_EQ(post_json("/api/v1/subscriptions", {{"email", "later@example.org"}})->status, 202);
    EXPECT_TRUE(wait_for([&] { return !confirm_link_for("later@example.org").empty(); }));
    EXPECT_TRUE(wait_for([&] { return db_inspect::outbox_counts(sqlite()).queued == 0; }));
    EXPECT_EQ(svc_->stop(15), 0) << svc_->stderr_text();
    return confirm_link_for("later@example.org");
  }
};

TEST_F(MigrateDataTest, CopiesEveryTableWithItsIdsAndOldLinksStillWork) {
  const auto later_link = populate();
  ASSERT_FALSE(later_link.empty());
  ASSERT_FALSE(HasFailure());
  // An import still running when the service stopped: it resumes after the move.
  db_inspect::exec(sqlite(),
                   "INSERT INTO imports (mode, dry_run, status, key_name, header, created_at, "
                   "parts) VALUES ('pending', 0, 'running', 'ops', 'email', 1, 1); "
                   "INSERT INTO import_parts (import_id, seq, first_line, data) "
                   "SELECT max(id), 0, 2, 'moved@example.org' || char(10) FROM imports;");
  for (const auto& t : storage::copied_tables()) {
    // SendGrid's events and rate grants (no rate set): not part of this journey.
    if (t != "provider_events" && t != "rate_grants") {
      EXPECT_GT(count(t), 0) << t << " is empty in the source: the copy of it shows nothing";
    }
  }

  // Values COPY's text format must escape: a tab, a backslash and a newline
  // (the text nobody recognised).
  EXPECT_EQ(
      db_inspect::query_value(sqlite(),
                              "SELECT count(*) FROM inbound_texts WHERE instr(body, char(9)) > 0 "
                              "AND instr(body, char(92)) > 0 AND instr(body, char(10)) > 0"),
      "1");
  const auto url = PgCluster::shared().create_database("migrate_data");
  auto r = migrate_data(sqlite(), url);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");

  // The counts it prints, per table, are the counts of both databases.
  const auto counts = printed_counts(r.out);
  EXPECT_EQ(counts.size(), storage::copied_tables().size()) << r.out;
  for (const auto& t : storage::copied_tables()) {
    SCOPED_TRACE(t);
    ASSERT_TRUE(counts.contains(t)) << r.out;
    EXPECT_EQ(counts.at(t).first, count(t));
    EXPECT_EQ(counts.at(t).second, db_inspect::count(url, t));
    EXPECT_EQ(counts.at(t).first, counts.at(t).second);
    // Every row, field by field: ids, NULLs, tabs, quotes and backslashes.
    EXPECT_EQ(table_rows(sqlite(), t), table_rows(url, t));
  }
  // The consent log field by field, in id order.
  const std::string log_sql =
      "SELECT id, at, subscriber_id, channel_id, channel, address, action, source, detail, ip, "
      "user_agent, consent_text_sha256, consent_text_version, message_sid, text_received, "
      "opt_out_type FROM consent_log ORDER BY id";
  const auto before = db_inspect::rows(sqlite(), log_sql);
  EXPECT_GE(before.size(), 8u);
  EXPECT_EQ(db_inspect::rows(url, log_sql), before);

  // What the operator must carry over: the secret.key beside the database.
  const auto key_file = std::filesystem::absolute(dir_.str("data/secret.key")).string();
  EXPECT_NE(r.out.find("SC_SECRET_FILE=" + key_file), std::string::npos) << r.out;

  // The append-only logs are append-only on the target too.
  EXPECT_ANY_THROW(db_inspect::exec(url, "UPDATE consent_log SET detail = 'x'"));
  EXPECT_ANY_THROW(db_inspect::exec(url, "DELETE FROM audit_log"));
  EXPECT_ANY_THROW(db_inspect::exec(url, "DELETE FROM admin_keys"));

  // The same service on PostgreSQL. SC_SECRET_FILE is not on main yet:
  // SC_SECRET with the file's content is the same key.
  std::ifstream in(key_file);
  std::string secret;
  std::getline(in, secret);
  ASSERT_GE(secret.size(), 32u);
  auto env = sqlite_env();
  env["SC_DB"] = url;
  env["SC_SECRET"] = secret;
  start_with(env);
  const auto old_log = std::stoll(db_inspect::query_value(url, "SELECT max(id) FROM consent_log"));
  const auto old_subscriber =
      std::stoll(db_inspect::query_value(url, "SELECT max(id) FROM subscribers"));
  auto p = cli_->Post(later_link.c_str(), {{"Accept", "text/html"}}, "",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200) << p->body;
  EXPECT_NE(p->body.find("You are subscribed"), std::string::npos) << p->body;
  EXPECT_EQ(email_state("later@example.org"), "confirmed");
  // New rows get new ids (each identity was moved past the largest id).
  auto n = post_json("/api/v1/subscriptions", {{"email", "after@example.org"}});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->status, 202) << n->body;
  EXPECT_EQ(email_state("after@example.org"), "pending");
  EXPECT_EQ(db_inspect::query_value(
                url, "SELECT count(*) FROM consent_log WHERE id > " + std::to_string(old_log)),
            "2");  // later's confirm, after's grant
  EXPECT_EQ(db_inspect::query_value(url, "SELECT count(*) FROM subscribers WHERE id > " +
                                             std::to_string(old_subscriber)),
            "1");
}

TEST_F(MigrateDataTest, ANonEmptyTargetIsRefusedAndLeftAsItWas) {
  auto env = base_env();
  ASSERT_EQ(run_binary(SC_BINARY, {"migrate"}, env).exit_code, 0);
  auto made = run_binary(SC_BINARY, {"keys", "create", "--name", "a", "--scope", "read"}, env);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto url = PgCluster::shared().create_database("migrate_data_full");
  // One row in one table of the target, migrated as a service's start would.
  storage::migrate(url);
  db_inspect::exec(url, "INSERT INTO subscribers (first_name, created_at) VALUES ('x', 1)");
  const auto before = table_rows(url, "subscribers");

  auto r = migrate_data(sqlite(), url);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(lines_of(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("is not empty (subscribers 1 row)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(table_rows(url, "subscribers"), before);
  for (const auto& t : storage::copied_tables()) {
    if (t != "subscribers") {
      EXPECT_EQ(db_inspect::count(url, t), 0) << t;
    }
  }
}

TEST_F(MigrateDataTest, AnUnreachableTargetIsOneLineAndExit2WithinTheConnectTimeout) {
  ASSERT_EQ(run_binary(SC_BINARY, {"migrate"}, base_env()).exit_code, 0);
  const auto started = std::chrono::steady_clock::now();
  auto r =
      migrate_data(sqlite(), "postgresql://sc:hunter2-secret@127.0.0.1:1/sc?connect_timeout=2");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines_of(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("cannot open database postgresql://sc:***@127.0.0.1:1/sc"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  EXPECT_LT(took, std::chrono::seconds(8));
}

TEST_F(MigrateDataTest, ASourceNotFullyMigratedIsRefused) {
  ASSERT_EQ(run_binary(SC_BINARY, {"migrate"}, base_env()).exit_code, 0);
  // As if the last migration had not run yet (its table stays: the check is
  // on the recorded versions).
  db_inspect::exec(sqlite(),
                   "DELETE FROM schema_migrations WHERE version = "
                   "(SELECT max(version) FROM schema_migrations)");
  const auto url = PgCluster::shared().create_database("migrate_data_old");
  auto r = migrate_data(sqlite(), url);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(lines_of(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("run `SC_DB=" + sqlite() + " stayconnected migrate` first"),
            std::string::npos)
      << r.err;
  for (const auto& t : storage::copied_tables()) EXPECT_EQ(db_inspect::count(url, t), 0) << t;
}

TEST_F(MigrateDataTest, AFailureHalfWayLeavesTheTargetEmpty) {
  auto env = base_env();
  ASSERT_EQ(run_binary(SC_BINARY, {"migrate"}, env).exit_code, 0);
  auto made = run_binary(SC_BINARY, {"keys", "create", "--name", "a", "--scope", "read"}, env);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  db_inspect::exec(sqlite(), "INSERT INTO subscribers (first_name, created_at) VALUES ('x', 1)");
  // The last table copied holds a row PostgreSQL refuses (SQLite keeps a
  // text that is no integer in an INTEGER column).
  ASSERT_EQ(storage::copied_tables().back(), "sms_confirm_sends");
  db_inspect::exec(sqlite(),
                   "INSERT INTO sms_confirm_sends (at, client, number, prefix) "
                   "VALUES ('soon', '', '+16502530000', '+1650253')");
  const auto url = PgCluster::shared().create_database("migrate_data_fail");
  auto r = migrate_data(sqlite(), url);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(lines_of(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("rolled back"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sms_confirm_sends"), std::string::npos) << r.err;
  for (const auto& t : storage::copied_tables()) EXPECT_EQ(db_inspect::count(url, t), 0) << t;
  // Nothing was left behind that would refuse a second try.
  db_inspect::exec(sqlite(), "DELETE FROM sms_confirm_sends");
  auto again = migrate_data(sqlite(), url);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(db_inspect::count(url, "subscribers"), 1);
}

TEST_F(MigrateDataTest, BadUsageIsOneLineAndExit2) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"migrate-data"},
        {"migrate-data", "--from", "x.db"},
        {"migrate-data", "--from", "x.db", "--to"},
        {"migrate-data", "--from", "x.db", "--to", "y.db"},
        {"migrate-data", "--from", "missing.db", "--to", "postgresql:///nowhere"},
        {"migrate-data", "--from", "x.db", "--to", "postgresql:///a", "--bogus", "1"}}) {
    auto r = run_binary(SC_BINARY, args, base_env());
    EXPECT_EQ(r.exit_code, 2) << args.size() << r.err;
    EXPECT_EQ(lines_of(r.err), 1u) << r.err;
  }
  auto help = run_binary(SC_BINARY, {"--help"}, {});
  EXPECT_NE(help.out.find("migrate-data --from FILE --to URL"), std::string::npos);
}

}  // namespace
}  // namespace sc::testing

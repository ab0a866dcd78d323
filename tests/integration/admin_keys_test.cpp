// `stayconnected keys` against the real binary and a running service: a key
// made on the host works at once, is never shown again nor stored, a revoked
// key is refused from the next request, scopes hold, and the audit log names
// the key behind every lookup.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class AdminKeysIntegrationTest : public ServiceTest {
 protected:
  RunResult keys(const std::vector<std::string>& args) {
    std::vector<std::string> a = {"keys"};
    a.insert(a.end(), args.begin(), args.end());
    return run_binary(SC_BINARY, a, base_env());
  }
  // Makes a key through the CLI and returns it (the one line on stdout).
  std::string create(const std::string& name, const std::string& scope) {
    auto r = keys({"create", "--name", name, "--scope", scope});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    static const std::regex kKeyLine(R"(sc_[A-Za-z0-9_-]{43}\n)");
    EXPECT_TRUE(std::regex_match(r.out, kKeyLine)) << "stdout: " << r.out;
    return r.out.empty() ? "" : r.out.substr(0, r.out.size() - 1);
  }
  httplib::Result get(const std::string& path, const std::string& key) {
    return cli_->Get(path.c_str(), {{"Authorization", "Bearer " + key}});
  }
  // Every byte of the database's files.
  std::string db_bytes() {
    std::string all;
    if (on_postgres()) {  // every row of the tables a key could be written to, as text
      for (const char* t : {"admin_keys", "audit_log"})
        for (const auto& row :
             db_inspect::column(db(), std::string("SELECT CAST(t AS TEXT) FROM ") + t + " t"))
          all += row + "\n";
      return all;
    }
    for (const auto& f : std::filesystem::directory_iterator(dir_.str("data"))) {
      if (f.path().filename().string().rfind("sc.db", 0) != 0) continue;
      std::ifstream in(f.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }
};

TEST_F(AdminKeysIntegrationTest, CreatedKeysWorkWithTheirScopesAndRevokedOnesStopAtOnce) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "ann@example.org"}})->status, 202);
  const auto read_key = create("dashboard", "read");
  const auto send_key = create("newsroom", "send");
  const auto admin_key = create("ops", "admin");
  ASSERT_FALSE(read_key.empty());
  EXPECT_NE(read_key, send_key);

  // keys list names every key and its scope, never a key.
  auto list = keys({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const auto* want : {"dashboard", "newsroom", "ops", "read", "send", "admin"})
    EXPECT_NE(list.out.find(want), std::string::npos) << want << "\n" << list.out;
  for (const auto& k : {read_key, send_key, admin_key}) {
    EXPECT_EQ(list.out.find(k), std::string::npos) << list.out;
    EXPECT_EQ(list.out.find(k.substr(12)), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(k.substr(0, 11)), std::string::npos) << "the prefix is shown";
  }

  // The service accepts the new keys at once, each for its scope.
  const std::string lookup = "/api/v1/admin/subscribers?email=ann%40example.org";
  auto r = get(lookup, read_key);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["email"], "ann@example.org");
  EXPECT_EQ(get("/metrics", read_key)->status, 200);
  EXPECT_EQ(get(lookup, send_key)->status, 200);
  for (const auto& k : {read_key, send_key}) {
    r = get("/api/v1/admin/audit", k);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_NE(r->body.find("admin scope"), std::string::npos) << r->body;
  }
  r = get("/api/v1/admin/audit", admin_key);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto entries = json::parse(r->body)["items"];
  // Newest first: newsroom's lookup, dashboard's lookup, then the CLI's key.create rows.
  ASSERT_GE(entries.size(), 2u) << r->body;
  EXPECT_EQ(entries[0]["key_name"], "newsroom");
  EXPECT_EQ(entries[1]["key_name"], "dashboard");
  for (int i : {0, 1}) {
    EXPECT_EQ(entries[i]["action"], "subscriber.lookup");
    EXPECT_EQ(entries[i]["target"], "ann@example.org");
    EXPECT_EQ(entries[i]["ip"], "127.0.0.1");
  }
  int creates = 0;
  for (const auto& e : entries) creates += e["action"] == "key.create" ? 1 : 0;
  EXPECT_EQ(creates, 3) << r->body;

  // Revoked on the host while the service runs: refused on the next request.
  auto rev = keys({"revoke", "dashboard"});
  ASSERT_EQ(rev.exit_code, 0) << rev.err;
  r = get(lookup, read_key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(get("/metrics", read_key)->status, 401);
  EXPECT_EQ(get(lookup, send_key)->status, 200);  // the others are untouched
  list = keys({"list"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(list.out, m, std::regex(R"(dashboard +read +\S+ +\S+ +(\S+))")))
      << list.out;
  EXPECT_NE(m[1].str(), "-") << "the revocation time is shown";

  // The keys themselves were never written to the database.
  const auto bytes = db_bytes();
  ASSERT_FALSE(bytes.empty());
  for (const auto& k : {read_key, send_key, admin_key})
    EXPECT_EQ(bytes.find(k.substr(11)), std::string::npos);
}

TEST_F(AdminKeysIntegrationTest, BadKeyCommandsExitTwoAndChangeNothing) {
  ASSERT_EQ(run_binary(SC_BINARY, {"migrate"}, base_env()).exit_code, 0);
  ASSERT_EQ(keys({"create", "--name", "taken", "--scope", "read"}).exit_code, 0);
  const auto db = this->db();
  const auto keys_before = db_inspect::count(db, "admin_keys");
  const auto audit_before = db_inspect::count(db, "audit_log");
  struct Bad {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<Bad> table = {
      {{}, "missing subcommand"},
      {{"create"}, "--name is required"},
      {{"create", "--name", "x"}, "--scope is required"},
      {{"create", "--scope", "read"}, "--name is required"},
      {{"create", "--name", "x", "--scope", "root"}, "bad scope \"root\""},
      {{"create", "--name", "x", "--scope", "READ"}, "bad scope"},
      {{"create", "--name", "x", "--scope"}, "unexpected argument \"--scope\""},
      {{"create", "--name", "", "--scope", "read"}, "bad name"},
      {{"create", "--name", "has space", "--scope", "read"}, "bad name"},
      {{"create", "--name", std::string(65, 'n'), "--scope", "read"}, "bad name"},
      {{"create", "--name", "SC_ADMIN_API_KEY", "--scope", "admin"}, "bad name"},
      // The audit log's name for this CLI (`keys create` and `keys revoke` by "cli").
      {{"create", "--name", "cli", "--scope", "admin"}, "bad name"},
      {{"create", "--name", "taken", "--scope", "admin"}, "already exists"},
      {{"create", "--name", "y", "--scope", "read", "extra"}, "unexpected argument \"extra\""},
      {{"revoke"}, "give one NAME"},
      {{"revoke", "a", "b"}, "give one NAME"},
      {{"revoke", "nobody"}, "no key named \"nobody\""},
      {{"list", "extra"}, "unknown subcommand or wrong arguments"},
      {{"delete", "taken"}, "unknown subcommand or wrong arguments"},
  };
  for (const auto& t : table) {
    auto r = keys(t.args);
    std::string shown;
    for (const auto& a : t.args) shown += " " + a;
    EXPECT_EQ(r.exit_code, 2) << "keys" << shown << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << "keys" << shown << " printed: " << r.out;
    EXPECT_NE(r.err.find(t.says), std::string::npos) << "keys" << shown << ": " << r.err;
  }
  EXPECT_EQ(db_inspect::count(db, "admin_keys"), keys_before);
  EXPECT_EQ(db_inspect::count(db, "audit_log"), audit_before);
  // Revoking twice is not an error: the key stays revoked from the first time.
  ASSERT_EQ(keys({"revoke", "taken"}).exit_code, 0);
  auto again = keys({"revoke", "taken"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.err.find("already revoked"), std::string::npos) << again.err;
}

TEST_F(AdminKeysIntegrationTest, KeysUseTheDatabaseOfTheConfigFileAndAreInTheHelp) {
  const auto db = dir_.str("from-file/sc.db");
  std::ofstream(dir_.str("sc.env")) << "SC_DB=" << db << "\n";
  auto env = base_env();
  env.erase("SC_DB");
  ASSERT_EQ(run_binary(SC_BINARY, {"--config", dir_.str("sc.env"), "migrate"}, env).exit_code, 0);
  auto r = run_binary(
      SC_BINARY,
      {"--config", dir_.str("sc.env"), "keys", "create", "--name", "from-file", "--scope", "send"},
      env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(db_inspect::query_value(db, "SELECT name || ' ' || scope FROM admin_keys"),
            "from-file send");
  auto help = run_binary(SC_BINARY, {"--help"}, {});
  EXPECT_NE(help.out.find("keys create --name NAME --scope read|send|admin"), std::string::npos)
      << help.out;
  EXPECT_NE(help.out.find("keys revoke NAME"), std::string::npos) << help.out;
}

// Without SC_DB (or with a mistyped one) a key went into a new, empty
// database the service never reads. Every keys command refuses a database
// that does not exist, creates nothing, and says how to fix it.
TEST_F(AdminKeysIntegrationTest, KeysRefuseAMissingDatabaseAndCreateNothing) {
  auto env = base_env();
  env["SC_DB"] = dir_.str("elsewhere/sc.db");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"keys", "create", "--name", "ops", "--scope", "admin"},
        std::vector<std::string>{"keys", "list"},
        std::vector<std::string>{"keys", "revoke", "ops"}}) {
    auto r = run_binary(SC_BINARY, args, env);
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << args[1] << " printed: " << r.out;
    EXPECT_NE(r.err.find("no database at " + dir_.str("elsewhere/sc.db")), std::string::npos)
        << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find("stayconnected migrate"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir_.str("elsewhere"))) << args[1];
  }
  // Bad arguments are still told first, before the database is looked for.
  auto bad = run_binary(SC_BINARY, {"keys", "create", "--name", "x"}, env);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--scope is required"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace sc::testing

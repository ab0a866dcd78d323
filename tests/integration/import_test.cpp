// Imports through the real binary (both backends): POST /api/v1/admin/imports
// checks the CSV whole before anything changes, the runner applies it, and
// GET …/imports/{id} and …/rows.csv report it; the same file twice changes
// nothing; an unsubscribed or suppressed address is never changed; a pending
// import's confirmations are paced behind sign-ups'; a SIGKILL mid-way is
// resumed; and `stayconnected import` does the same from the host.
#include <csignal>
#include <fstream>
#include <sstream>

#include "integration/service_fixture.h"
#include "support/raw_http.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class ImportTest : public ServiceTest {
 protected:
  httplib::Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

  httplib::Result upload(const std::string& csv, const std::string& query,
                         const std::string& type = "text/csv") {
    return cli_->Post(("/api/v1/admin/imports?" + query).c_str(), admin(), csv, type.c_str());
  }

  // Uploads and waits for the import to end; returns its status document.
  json run(const std::string& csv, const std::string& query = "mode=confirmed") {
    auto r = upload(csv, query);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 202) << r->body;
    if (r->status != 202) return nullptr;
    return wait_done(json::parse(r->body)["id"].get<std::int64_t>());
  }

  json wait_done(std::int64_t id) {
    json job;
    EXPECT_TRUE(wait_for(
        [&] {
          auto g = cli_->Get(("/api/v1/admin/imports/" + std::to_string(id)).c_str(), admin());
          if (!g || g->status != 200) return false;
          job = json::parse(g->body);
          return job["status"] != "running";
        },
        std::chrono::seconds(60)))
        << job.dump();
    return job;
  }

  std::string rows_csv(std::int64_t id) {
    auto r =
        cli_->Get(("/api/v1/admin/imports/" + std::to_string(id) + "/rows.csv").c_str(), admin());
    return r && r->status == 200 ? r->body : "HTTP " + std::to_string(r ? r->status : 0);
  }

  json subscriber(const std::string& email) { return admin_lookup(email); }

  // Nothing of a refused upload is left: no import, part or row.
  void expect_nothing_stored() {
    EXPECT_EQ(count("imports"), 0);
    EXPECT_EQ(count("import_parts"), 0);
    EXPECT_EQ(count("import_rows"), 0);
    EXPECT_EQ(count("subscribers"), 0);
  }

  static constexpr const char* kHeader =
      "email,phone,first_name,topics,consented_at,consent_source,consent_text,consent_ip\r\n";
};

TEST_F(ImportTest, AConfirmedImportRecordsTheEvidenceAndReportsEveryRefusedRowWithItsLine) {
  start();
  const std::string csv = std::string(kHeader) +
                          "ann@example.org,,Ann,news;events,2024-01-02T03:04:05Z,paper form,,"
                          "192.0.2.1\r\n"
                          "bob@example.org,+16502530111,Bob,,2024-01-02T03:04:05Z,web,"
                          "\"I agree to texts, reply STOP\",\r\n"
                          "ANN@example.org,,Dup,,2024-01-02T03:04:05Z,web,,\r\n"
                          "cy@example.org,,Cy,,,,,\r\n"
                          "\"dee@example.org\",,\"Dee\nNewline\",,2024-01-02T03:04:05Z,web,,\r\n"
                          "eve@example.org,+16502530112,Eve,,2024-01-02T03:04:05Z,web,,\r\n"
                          "not-an-email,,,,2024-01-02T03:04:05Z,web,,\r\n"
                          "fay@example.org,,Fay,,tomorrow,web,,\r\n"
                          "gus@example.org,,Gus,,2024-01-02T03:04:05Z,web,,999.1.1.1\r\n";
  auto job = run(csv);
  ASSERT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["counts"],
            json({{"rows", 9}, {"added", 2}, {"updated", 0}, {"unchanged", 0}, {"refused", 7}}));
  // Line numbers are the file's own: the quoted newline counts.
  const auto rows = rows_csv(job["id"]);
  EXPECT_EQ(rows.rfind("line,verdict,reason\r\n", 0), 0u) << rows;
  for (const char* want :
       {"4,refused,\"the same email as line 2\"", "5,refused,\"mode=confirmed needs consented_at",
        "6,refused,\"first_name", "8,refused,\"mode=confirmed needs the consent wording",
        "9,refused,", "10,refused,\"consented_at is not an RFC 3339 time",
        "11,refused,\"consent_ip is not an IP address\""}) {
    EXPECT_NE(rows.find(want), std::string::npos) << want << " in\n" << rows;
  }
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 8) << rows;

  auto ann = subscriber("ann@example.org");
  ASSERT_FALSE(ann.is_null());
  EXPECT_EQ(ann["channels"]["email"]["state"], "confirmed");
  const auto& log = ann["consent_log"];
  ASSERT_EQ(log.size(), 2u) << log.dump();
  EXPECT_EQ(log[0]["action"], "grant");
  EXPECT_EQ(log[0]["source"], "import");
  EXPECT_EQ(log[0]["at"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(log[0]["ip"], "192.0.2.1");
  EXPECT_EQ(log[0]["detail"],
            "import " + std::to_string(job["id"].get<int>()) + " by SC_ADMIN_API_KEY: paper form");
  EXPECT_EQ(log[1]["action"], "confirm");
  auto bob = subscriber("bob@example.org");
  EXPECT_EQ(bob["channels"]["sms"]["state"], "confirmed");
  EXPECT_EQ(bob["consent_log"][0]["consent_text_version"].get<std::string>().rfind("import-", 0),
            0u);
  EXPECT_EQ(db_inspect::query_value(
                db(), "SELECT count(*) FROM audit_log WHERE action = 'import.create'"),
            "1");
  // Nothing of the upload outlives the import.
  EXPECT_EQ(count("import_parts"), 0);
}

TEST_F(ImportTest, TheSameFileTwiceChangesNothingTheSecondTime) {
  start();
  const std::string csv =
      "email,first_name,topics,consented_at,consent_source\n"
      "a@example.org,Ann,news,2024-01-02T03:04:05Z,web\n"
      "b@example.org,Bob,,2024-01-02T03:04:05Z,web\n"
      "bad,Cy,,2024-01-02T03:04:05Z,web\n";
  auto first = run(csv);
  EXPECT_EQ(first["counts"]["added"], 2);
  const auto consent = count("consent_log"), subscribers = count("subscribers");
  auto second = run(csv);
  EXPECT_EQ(second["counts"],
            json({{"rows", 3}, {"added", 0}, {"updated", 0}, {"unchanged", 2}, {"refused", 1}}));
  EXPECT_EQ(count("consent_log"), consent);
  EXPECT_EQ(count("subscribers"), subscribers);
}

TEST_F(ImportTest, UnsubscribedAndSuppressedAddressesAreNeverChanged) {
  start();
  ASSERT_EQ(run("email,consented_at,consent_source\n"
                "left@example.org,2024-01-02T03:04:05Z,web\n"
                "erased@example.org,2024-01-02T03:04:05Z,web\n")["counts"]["added"],
            2);
  const auto left = subscriber("left@example.org")["id"].get<std::int64_t>();
  const auto erased = subscriber("erased@example.org")["id"].get<std::int64_t>();
  auto u =
      cli_->Post(("/api/v1/admin/subscribers/" + std::to_string(left) + "/unsubscribe").c_str(),
                 admin(), R"({"channel":"all"})", "application/json");
  ASSERT_TRUE(u && u->status == 200);
  auto d = cli_->Delete(("/api/v1/admin/subscribers/" + std::to_string(erased)).c_str(), admin());
  ASSERT_TRUE(d && d->status == 204);

  auto job =
      run("email,first_name,consented_at,consent_source\n"
          "left@example.org,Lefty,2024-06-02T03:04:05Z,web\n"
          "Erased@Example.org,Back,2024-06-02T03:04:05Z,web\n");
  EXPECT_EQ(job["counts"]["refused"], 1);
  EXPECT_EQ(job["counts"]["updated"], 1);  // the name; never the consent
  EXPECT_EQ(email_state("left@example.org"), "unsubscribed");
  EXPECT_EQ(email_state("erased@example.org"), "absent");
  EXPECT_NE(rows_csv(job["id"]).find("3,refused,\"the email is on the suppression list"),
            std::string::npos)
      << rows_csv(job["id"]);
}

TEST_F(ImportTest, APendingImportQueuesPacedConfirmationsBehindSignUps) {
  start({{"SC_IMPORT_CONFIRMS_PER_SECOND", "1"}});
  auto job = run("email,first_name\np1@example.org,Pat\np2@example.org,Pam\np3@example.org,Pia\n",
                 "mode=pending");
  ASSERT_EQ(job["counts"]["added"], 3) << job.dump();
  EXPECT_EQ(email_state("p2@example.org"), "pending");
  // Due one a second from the import's start: a sign-up's own confirmation
  // (due at once) is claimed ahead of all of them.
  const auto spread = db_inspect::query_value(
      db(),
      "SELECT max(next_attempt_at) - min(next_attempt_at) FROM outbox WHERE purpose = "
      "'confirm'");
  EXPECT_EQ(spread, "2");
  ASSERT_TRUE(wait_emails(3));
  const auto mails = emails();
  EXPECT_NE(mails[0].find("/confirm/"), std::string::npos);
  EXPECT_EQ(db_inspect::query_value(db(),
                                    "SELECT count(*) FROM consent_log WHERE source = 'import' AND "
                                    "action = 'grant'"),
            "3");
}

TEST_F(ImportTest, ADryRunReportsEveryRowAndChangesNothing) {
  start();
  auto job =
      run("email,consented_at,consent_source\n"
          "a@example.org,2024-01-02T03:04:05Z,web\n"
          "a@example.org,2024-01-02T03:04:05Z,web\n"
          "b@example.org,,\n",
          "mode=confirmed&dry_run=true");
  EXPECT_EQ(job["dry_run"], true);
  EXPECT_EQ(job["counts"]["added"], 1);
  EXPECT_EQ(job["counts"]["refused"], 2);
  EXPECT_EQ(count("subscribers"), 0);
  EXPECT_EQ(count("consent_log"), 0);
  const auto rows = rows_csv(job["id"]);
  EXPECT_NE(rows.find("2,added,"), std::string::npos) << rows;
  EXPECT_NE(rows.find("3,refused,\"the same email as line 2\""), std::string::npos) << rows;
  EXPECT_NE(rows.find("4,refused,"), std::string::npos) << rows;
}

TEST_F(ImportTest, AnUploadRefusedWholeLeavesNothingBehind) {
  start({{"SC_IMPORT_MAX_ROWS", "1000"}});
  struct Case {
    std::string body, query, type;
    int status;
    std::string code;
  };
  std::string many = "email\n";
  for (int i = 0; i <= 1000; ++i) many += "m" + std::to_string(i) + "@example.org\n";
  const std::vector<Case> cases = {
      {"emial\nx@example.org\n", "mode=confirmed", "text/csv", 422, "invalid_header"},
      {"email,email\nx@example.org,y\n", "mode=confirmed", "text/csv", 422, "invalid_header"},
      {"first_name\nAnn\n", "mode=confirmed", "text/csv", 422, "invalid_header"},
      {"", "mode=confirmed", "text/csv", 422, "empty_import"},
      {"email\n", "mode=confirmed", "text/csv", 422, "empty_import"},
      {"email\nx\xff@example.org\n", "mode=confirmed", "text/csv", 422, "invalid_encoding"},
      {std::string("email\nx@example.org\n\0\n", 23), "mode=confirmed", "text/csv", 422,
       "invalid_encoding"},
      {"email\n\"x@example.org\n", "mode=confirmed", "text/csv", 422, "invalid_csv"},
      {"email\nx\"y@example.org\n", "mode=confirmed", "text/csv", 422, "invalid_csv"},
      {"email\n\"x@example.org\"z\n", "mode=confirmed", "text/csv", 422, "invalid_csv"},
      {"email\rx@example.org\r", "mode=confirmed", "text/csv", 422, "invalid_csv"},
      {"email\n" + std::string(70000, 'a') + "\n", "mode=confirmed", "text/csv", 422,
       "line_too_long"},
      {many, "mode=confirmed", "text/csv", 413, "too_many_rows"},
      {"email\nx@example.org\n", "mode=maybe", "text/csv", 422, "invalid_mode"},
      {"email\nx@example.org\n", "", "text/csv", 422, "invalid_mode"},
      {"email\nx@example.org\n", "mode=pending&dry_run=yes", "text/csv", 422, "invalid_dry_run"},
      {"email\nx@example.org\n", "mode=pending", "application/json", 415, "unsupported_media_type"},
      {"email\nx@example.org\n", "mode=pending", "text/csv; charset=latin1", 415,
       "unsupported_media_type"},
  };
  for (const auto& c : cases) {
    auto r = upload(c.body, c.query, c.type);
    ASSERT_TRUE(r) << c.code;
    EXPECT_EQ(r->status, c.status) << c.code << ": " << r->body;
    EXPECT_NE(r->body.find("\"" + c.code + "\""), std::string::npos) << r->body;
    expect_nothing_stored();
  }
  // A read key may look, never import; no key, nothing.
  auto none =
      cli_->Post("/api/v1/admin/imports?mode=pending", "email\nx@example.org\n", "text/csv");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto missing = cli_->Get("/api/v1/admin/imports/999", admin());
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto missing_rows = cli_->Get("/api/v1/admin/imports/abc/rows.csv", admin());
  ASSERT_TRUE(missing_rows);
  EXPECT_EQ(missing_rows->status, 404);
  expect_nothing_stored();
}

TEST_F(ImportTest, ABomCrlfAndQuotedFieldsAreRead) {
  start();
  auto job =
      run("\xEF\xBB\xBF"
          "email,first_name,consented_at,consent_source\r\n"
          "\"a@example.org\",\"O'Brien\",2024-01-02T03:04:05Z,\"web, \"\"spring\"\"\"\r\n"
          "\r\n"
          "b@example.org,Bea,2024-01-02T03:04:05Z,\"=HYPERLINK(\"\"x\"\")\"\r\n");
  ASSERT_EQ(job["counts"]["added"], 2) << job.dump() << rows_csv(job["id"]);
  auto a = subscriber("a@example.org");
  EXPECT_EQ(a["first_name"], "O'Brien");
  EXPECT_EQ(a["consent_log"][0]["detail"].get<std::string>().substr(
                a["consent_log"][0]["detail"].get<std::string>().find(": ")),
            ": web, \"spring\"");
}

// 10,000,000 rows against the default limit of 5,000,000: refused with 413
// once the limit is passed, streamed (never held whole), nothing kept.
TEST_F(ImportTest, TenMillionRowsAreRefusedWhole) {
  // The client writes on after the answer: a closed socket must not end the test.
  std::signal(SIGPIPE, SIG_IGN);
  start();
  httplib::Client cli("127.0.0.1", svc_->port());
  cli.set_write_timeout(120, 0);
  cli.set_read_timeout(120, 0);
  int sent = 0;
  auto r = cli.Post(
      "/api/v1/admin/imports?mode=pending", admin(),
      [&](std::size_t, httplib::DataSink& sink) {
        std::string chunk = sent == 0 ? "email\n" : "";
        for (int i = 0; i < 10000 && sent < 10'000'000; ++i, ++sent) chunk += "a@b.co\n";
        if (!sink.write(chunk.data(), chunk.size())) return false;
        if (sent >= 10'000'000) sink.done();
        return true;
      },
      "text/csv");
  if (r) {
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_NE(r->body.find("too_many_rows"), std::string::npos) << r->body;
  }
  EXPECT_LT(sent, 10'000'000);  // the service stopped reading at the limit
  EXPECT_TRUE(wait_for([&] { return count("imports") == 0; }));
  expect_nothing_stored();
}

// A line of 100 MB announced: refused at the row limit (64 KB), without
// reading the rest, nothing kept.
TEST_F(ImportTest, AHundredMegabyteLineIsRefusedWithoutReadingIt) {
  start();
  RawConnection c(svc_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(std::string("POST /api/v1/admin/imports?mode=pending HTTP/1.1\r\n") +
                     "Host: x\r\nAuthorization: Bearer " + kAdminKey +
                     "\r\nContent-Type: text/csv\r\nContent-Length: 104857606\r\n\r\n"
                     "email\n"));
  // More than the row limit, less than what the service drains after its answer.
  ASSERT_TRUE(c.send(std::string(128 * 1024, 'a')));
  const auto answer = c.read_until_close(std::chrono::seconds(30));
  EXPECT_EQ(answer.rfind("HTTP/1.1 422", 0), 0u) << answer;
  EXPECT_NE(answer.find("line_too_long"), std::string::npos) << answer;
  EXPECT_TRUE(wait_for([&] { return count("imports") == 0; }));
  expect_nothing_stored();
}

TEST_F(ImportTest, AnImportKilledMidWayIsResumedWithEveryRowOnce) {
  start();
  std::string csv = "email,first_name,consented_at,consent_source\n";
  constexpr int kRows = 30000;
  for (int i = 0; i < kRows; ++i)
    csv += "r" + std::to_string(i) + "@example.org,Rae,2024-01-02T03:04:05Z,web\n";
  auto r = upload(csv, "mode=confirmed");
  ASSERT_TRUE(r && r->status == 202);
  const auto id = json::parse(r->body)["id"].get<std::int64_t>();
  json job;
  ASSERT_TRUE(wait_for(
      [&] {
        auto g = cli_->Get(("/api/v1/admin/imports/" + std::to_string(id)).c_str(), admin());
        job = json::parse(g->body);
        return job["parts_done"].get<int>() >= 1;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(5)));
  svc_->kill_hard();
  const bool mid_way = job["status"] == "running";
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  cli_->set_read_timeout(10, 0);
  job = wait_done(id);
  EXPECT_EQ(job["status"], "completed");
  EXPECT_EQ(
      job["counts"],
      json({{"rows", kRows}, {"added", kRows}, {"updated", 0}, {"unchanged", 0}, {"refused", 0}}))
      << (mid_way ? "killed mid-way" : "it had finished before the kill");
  EXPECT_EQ(count("subscribers"), kRows);
  EXPECT_EQ(
      db_inspect::query_value(db(), "SELECT count(*) FROM consent_log WHERE action = 'grant'"),
      std::to_string(kRows));
}

TEST_F(ImportTest, TheCliImportsAFileFromTheHost) {
  start();
  ASSERT_EQ(svc_->stop(15), 0);
  const auto file = dir_.str("list.csv");
  {
    std::ofstream out(file);
    out << "email,first_name\nc1@example.org,Cleo\nc2@example.org,Cal\nbad,Bo\n";
  }
  auto env = base_env();
  const auto rows = dir_.str("rows.csv");
  auto res = run_binary(SC_BINARY, {"import", file, "--mode", "pending", "--rows", rows}, env);
  EXPECT_EQ(res.exit_code, 0) << res.out << res.err;
  EXPECT_NE(res.out.find("rows 3, added 2, updated 0, unchanged 0, refused 1"), std::string::npos)
      << res.out;
  std::ifstream in(rows);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), "line,verdict,reason\r\n4,refused,\"email has no @\"\r\n");
  auto again = run_binary(SC_BINARY, {"import", file, "--mode", "pending"}, env);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("added 0, updated 0, unchanged 2, refused 1"), std::string::npos)
      << again.out;
  auto refused =
      run_binary(SC_BINARY, {"import", dir_.str("missing.csv"), "--mode", "pending"}, env);
  EXPECT_EQ(refused.exit_code, 2);
  auto usage = run_binary(SC_BINARY, {"import", file}, env);
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(db_inspect::count(db(), "subscribers"), 2);
}

}  // namespace
}  // namespace sc::testing

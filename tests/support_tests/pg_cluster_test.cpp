// The throwaway PostgreSQL cluster of the tests (tests/support/pg_cluster.h)
// against the real PostgreSQL 15 server.
#include "support/pg_cluster.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/wait_for.h"

namespace sc::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One libpq connection; query() answers the first value of the first row,
// or "ERROR: ..." when the statement fails.
class Db {
 public:
  explicit Db(const std::string& url) : conn_(PQconnectdb(url.c_str())) {}
  ~Db() { PQfinish(conn_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }
  void reset() { PQreset(conn_); }
  std::string query(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    std::string out;
    auto status = PQresultStatus(res);
    if (status == PGRES_TUPLES_OK) {
      out = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "";
    } else if (status != PGRES_COMMAND_OK) {
      out = std::string("ERROR: ") + PQerrorMessage(conn_);
    }
    PQclear(res);
    return out;
  }

 private:
  PGconn* conn_;
};

// Running, and not a zombie left for a parent that does not reap.
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// The pids whose parent is `parent` (the postmaster's backends and workers).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 2));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string database_of(const std::string& url) {
  auto start = url.find(":///") + 4;
  return url.substr(start, url.find('?') - start);
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

TEST(PgCluster, DatabasesAreSeparate) {
  auto& cluster = PgCluster::shared();
  std::string a = cluster.create_database("iso");
  std::string b = cluster.create_database("iso");
  ASSERT_NE(a, b);
  Db da(a);
  Db db(b);
  ASSERT_TRUE(da.ok()) << da.error();
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(da.query("SELECT current_database()"), database_of(a));
  EXPECT_EQ(db.query("SELECT current_database()"), database_of(b));
  EXPECT_EQ(da.query("CREATE TABLE t (x int)"), "");
  EXPECT_EQ(da.query("INSERT INTO t VALUES (1)"), "");
  EXPECT_EQ(da.query("SELECT count(*) FROM t"), "1");
  EXPECT_EQ(db.query("SELECT to_regclass('t') IS NULL"), "t");
}

TEST(PgCluster, UrlIsALibpqUriOverTheSocketWithTheTestSettings) {
  auto& cluster = PgCluster::shared();
  std::string url = cluster.create_database();
  EXPECT_EQ(url.rfind("postgresql:///sc_t_", 0), 0u) << url;
  EXPECT_EQ(url.find('/', 14), std::string::npos) << "the host path is percent-encoded: " << url;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  ASSERT_NE(opts, nullptr) << (err != nullptr ? err : "");
  std::string host, user;
  for (auto* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string(o->keyword) == "host") host = o->val;
    if (std::string(o->keyword) == "user") user = o->val;
  }
  PQconninfoFree(opts);
  EXPECT_EQ(host, cluster.socket_dir());
  EXPECT_EQ(user, "postgres");
  EXPECT_TRUE(fs::exists(cluster.socket_dir() + "/.s.PGSQL.5432"));

  Db d(url);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d.query("SELECT inet_server_addr() IS NULL"), "t");  // a unix socket
  EXPECT_EQ(d.query("SHOW listen_addresses"), "");
  EXPECT_EQ(d.query("SHOW fsync"), "off");
  EXPECT_EQ(d.query("SHOW full_page_writes"), "off");
  EXPECT_EQ(d.query("SHOW synchronous_commit"), "on");
  EXPECT_EQ(d.query("SHOW max_connections"), "200");
  EXPECT_EQ(d.query("SHOW server_encoding"), "UTF8");
  EXPECT_EQ(d.query("SELECT split_part(current_setting('server_version'), '.', 1)"), "15");
  EXPECT_EQ(d.query("SELECT upper('é')"), "É");
}

TEST(PgCluster, TemplateIsPreparedOnceAndEachCloneCarriesItsTable) {
  auto& cluster = PgCluster::shared();
  int prepared = 0;
  auto prepare = [&](const std::string& url) {
    ++prepared;
    Db d(url);
    ASSERT_TRUE(d.ok()) << d.error();
    ASSERT_EQ(d.query("CREATE TABLE items (name text PRIMARY KEY)"), "");
    ASSERT_EQ(d.query("INSERT INTO items VALUES ('seed')"), "");
  };
  std::string tpl = cluster.create_template("tpl_items", prepare);
  EXPECT_EQ(cluster.create_template("tpl_items", prepare), tpl);
  EXPECT_EQ(prepared, 1);

  Db one(cluster.create_database_from_template(tpl));
  Db two(cluster.create_database_from_template(tpl));
  ASSERT_TRUE(one.ok()) << one.error();
  ASSERT_TRUE(two.ok()) << two.error();
  EXPECT_EQ(one.query("SELECT string_agg(name, ',') FROM items"), "seed");
  EXPECT_EQ(one.query("INSERT INTO items VALUES ('only in one')"), "");
  EXPECT_EQ(two.query("SELECT string_agg(name, ',') FROM items"), "seed");
  EXPECT_THROW(cluster.create_database_from_template("tpl_never_made"), std::invalid_argument);
  EXPECT_THROW(cluster.create_template("Bad-Name", prepare), std::invalid_argument);
}

TEST(PgCluster, TemplateLeftOpenByPrepareCanStillBeCloned) {
  auto& cluster = PgCluster::shared();
  std::unique_ptr<Db> left_open;
  std::string tpl = cluster.create_template("tpl_left_open", [&](const std::string& url) {
    left_open = std::make_unique<Db>(url);
    ASSERT_EQ(left_open->query("CREATE TABLE kept (x int)"), "");
  });
  Db clone(cluster.create_database_from_template(tpl));
  ASSERT_TRUE(clone.ok()) << clone.error();
  EXPECT_EQ(clone.query("SELECT to_regclass('kept') IS NOT NULL"), "t");
}

TEST(PgCluster, RestartKeepsTheDataAndClientsReconnect) {
  auto& cluster = PgCluster::shared();
  std::string url = cluster.create_database("restart");
  Db d(url);
  ASSERT_TRUE(d.ok()) << d.error();
  ASSERT_EQ(d.query("CREATE TABLE kv (k text, v int)"), "");
  ASSERT_EQ(d.query("INSERT INTO kv VALUES ('a', 42)"), "");
  pid_t before = cluster.postmaster_pid();
  ASSERT_NE(before, 0);

  cluster.restart();
  pid_t after = cluster.postmaster_pid();
  EXPECT_NE(after, 0);
  EXPECT_NE(after, before);
  EXPECT_TRUE(wait_for([&] { return !alive(before); }));
  EXPECT_EQ(d.query("SELECT 1").rfind("ERROR: ", 0), 0u) << "the old connection is gone";
  d.reset();
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d.query("SELECT v FROM kv WHERE k = 'a'"), "42");
}

TEST(PgCluster, StopAndStartAgain) {
  auto& cluster = PgCluster::shared();
  std::string url = cluster.create_database("stop");
  {
    Db d(url);
    ASSERT_EQ(d.query("CREATE TABLE kept (x int)"), "");
  }
  cluster.stop();
  EXPECT_FALSE(cluster.running());
  EXPECT_EQ(cluster.postmaster_pid(), 0);
  EXPECT_FALSE(Db(url).ok());
  cluster.start();
  EXPECT_TRUE(cluster.running());
  Db d(url);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d.query("SELECT to_regclass('kept') IS NOT NULL"), "t");
}

TEST(PgCluster, DestroyedClusterLeavesNoServerAndNoDirectory) {
  pid_t postmaster = 0;
  std::vector<pid_t> workers;
  std::string dir;
  {
    PgCluster cluster;
    postmaster = cluster.postmaster_pid();
    dir = cluster.socket_dir();
    workers = children_of(postmaster);
    ASSERT_TRUE(alive(postmaster));
    ASSERT_FALSE(workers.empty());
  }
  EXPECT_FALSE(fs::exists(dir));
  // pg_ctl stop -w returns once the pid file is gone; the last exits follow.
  EXPECT_TRUE(wait_for([&] {
    if (alive(postmaster)) return false;
    for (pid_t w : workers) {
      if (alive(w)) return false;
    }
    return true;
  }));
}

TEST(PgCluster, StartFailureNamesTheCauseFromTheServerLog) {
  PgCluster::Options options;
  options.extra_settings.push_back("shared_buffers = 'plenty'");
  std::string message;
  try {
    PgCluster cluster(options);
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("pg_ctl start failed"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid value for parameter \"shared_buffers\""), std::string::npos)
      << message;
  // "... in <dir>\n": the directory is gone after the failure.
  auto at = message.find(" in /");
  ASSERT_NE(at, std::string::npos) << message;
  std::string dir = message.substr(at + 4, message.find('\n', at) - at - 4);
  EXPECT_FALSE(fs::exists(dir)) << dir;
}

// A pipe the test opened (without close-on-exec) before the cluster started
// reads EOF once the test closes its write end: neither the server nor the
// reaper holds a copy.
TEST(PgCluster, ServerAndReaperInheritNoDescriptorOfTheTest) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  PgCluster cluster;
  ASSERT_TRUE(cluster.running());
  ::close(fds[1]);
  pollfd pfd{fds[0], POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10'000), 1) << "a process of the cluster holds the write end";
  char c = 0;
  EXPECT_EQ(::read(fds[0], &c, 1), 0);
  ::close(fds[0]);
}

// The reaper: a process that started a cluster and is SIGKILLed (no
// destructor runs) leaves no server and no directory behind.
TEST(PgCluster, SigkilledOwnerLeavesNoServerAndNoDirectory) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    std::string line;
    try {
      PgCluster cluster;
      line = std::to_string(cluster.postmaster_pid()) + " " + cluster.socket_dir() + "\n";
      if (::write(fds[1], line.data(), line.size()) < 0) ::_exit(3);
      while (true) ::pause();  // until SIGKILL: the destructor never runs
    } catch (const std::exception& e) {
      line = std::string("error ") + e.what() + "\n";
      if (::write(fds[1], line.data(), line.size()) < 0) ::_exit(3);
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  pollfd pfd{fds[0], POLLIN, 0};
  while (got.find('\n') == std::string::npos && ::poll(&pfd, 1, 60'000) == 1) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  std::istringstream in(got);
  long pid = 0;
  std::string dir;
  in >> pid >> dir;
  if (pid == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    FAIL() << "the child did not start a cluster: " << got;
  }
  auto postmaster = static_cast<pid_t>(pid);
  std::vector<pid_t> workers = children_of(postmaster);
  ASSERT_TRUE(alive(postmaster));
  ASSERT_FALSE(workers.empty());
  ASSERT_TRUE(fs::exists(dir + "/data/postmaster.pid"));

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto t0 = Clock::now();
  EXPECT_TRUE(wait_for(
      [&] {
        if (alive(postmaster) || fs::exists(dir)) return false;
        for (pid_t w : workers) {
          if (alive(w)) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << "postmaster " << postmaster << (alive(postmaster) ? " alive" : " gone") << ", " << dir
      << (fs::exists(dir) ? " still there" : " removed");
  std::printf("reaper: server stopped and directory removed %.0f ms after the SIGKILL\n",
              ms_since(t0));
}

// Figures for the report (not a timed test: nothing here fails on time).
TEST(PgCluster, Timings) {
  auto t0 = Clock::now();
  PgCluster cluster;
  double start_ms = ms_since(t0);

  t0 = Clock::now();
  constexpr int kN = 10;
  for (int i = 0; i < kN; ++i) cluster.create_database();
  double create_ms = ms_since(t0) / kN;

  std::string tpl = cluster.create_template("tpl_timing", [](const std::string& url) {
    Db d(url);
    ASSERT_TRUE(d.ok()) << d.error();
    for (int i = 0; i < 20; ++i) {
      std::string t = "t" + std::to_string(i);
      ASSERT_EQ(
          d.query("CREATE TABLE " + t +
                  " (id bigserial PRIMARY KEY, email text UNIQUE, state text, at timestamptz)"),
          "");
      ASSERT_EQ(d.query("CREATE INDEX ON " + t + " (state, at)"), "");
    }
  });
  t0 = Clock::now();
  std::string last;
  for (int i = 0; i < kN; ++i) last = cluster.create_database_from_template(tpl);
  double clone_ms = ms_since(t0) / kN;
  Db d(last);
  EXPECT_EQ(d.query("SELECT to_regclass('t19') IS NOT NULL"), "t");

  std::printf(
      "PgCluster: start %.0f ms, create_database %.1f ms, clone of a 20-table template %.1f ms\n",
      start_ms, create_ms, clone_ms);
  RecordProperty("start_ms", static_cast<int>(start_ms));
  RecordProperty("create_database_ms", static_cast<int>(create_ms));
  RecordProperty("clone_ms", static_cast<int>(clone_ms));
}

}  // namespace
}  // namespace sc::testing

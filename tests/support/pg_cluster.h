// PgCluster: a throwaway PostgreSQL 15 cluster for tests, one per test
// binary (shared()), one database per test (create_database()).
//
// The cluster lives in a fresh temp directory (data, log and the unix
// socket; no TCP port, so parallel test binaries never collide). As root the
// server binaries run as the unprivileged `postgres` user through runuser, in
// a directory that user owns; otherwise as the current user. The cluster is
// stopped and its directory removed when the object is destroyed (for
// shared(): at process exit), and a small reaper process does the same when
// the test process dies without running destructors (SIGKILL, abort).
//
// The settings are for tests: fsync and full_page_writes off (on with
// Options::durable), synchronous_commit on, 200 connections, trust
// authentication over the socket only.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace sc::testing {

class PgCluster {
 public:
  struct Options {
    // fsync=on and full_page_writes=on: for measurements of durable writes.
    bool durable = false;
    // More postgresql.conf lines, e.g. "log_min_duration_statement = 0".
    std::vector<std::string> extra_settings;
  };

  // The cluster of this test binary, started on first use (initdb and start,
  // about half a second), stopped and removed at process exit. Throws
  // std::runtime_error, with the tail of the server log, if it cannot start.
  // Under ctest, which runs each case in a process of its own, it is the one
  // cluster of the whole run instead (SC_TEST_PG_DIR: the directory of a
  // cluster that scripts/pg-cluster.sh started, see tests/CMakeLists.txt):
  // attached to, never stopped; names are then unique across processes.
  static PgCluster& shared();

  // A cluster of its own (for tests of the cluster itself, or one that needs
  // other settings). Throws std::runtime_error if it cannot start.
  PgCluster();
  explicit PgCluster(Options options);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // A new empty database (a unique name, "sc_<hint>_<n>"), as a libpq URI:
  // postgresql:///sc_t_1?host=%2Ftmp%2Fsc-pg-AbC123&port=5432&user=postgres
  std::string create_database(const std::string& name_hint = "");
  // A new database cloned from a template made by create_template().
  std::string create_database_from_template(const std::string& template_name);
  // Creates the database `name` once per cluster and runs prepare(url) on it
  // (e.g. the migrations); a later call with the same name returns at once.
  // Returns the template's name, for create_database_from_template(). prepare
  // should close its connections: any still open are terminated, since a
  // template cannot be copied while it is in use. `name`: [a-z_][a-z0-9_]*.
  std::string create_template(const std::string& name,
                              const std::function<void(const std::string& url)>& prepare);
  // The URI of an existing database.
  std::string url_of(const std::string& database) const;

  // pg_ctl restart -m fast: the data stays, open connections break (for
  // tests of a database that goes away and comes back).
  void restart();
  // pg_ctl stop -m fast / pg_ctl start -w: the database away for a while.
  void stop();
  void start();
  bool running() const;

  // The directory of the unix socket (and of the cluster: data/, server.log).
  const std::string& socket_dir() const { return dir_; }
  // The postmaster's pid while the server runs, 0 when it is stopped.
  pid_t postmaster_pid() const;
  // The last lines of the server log, for failure messages.
  std::string log_tail(std::size_t max_lines = 30) const;

  // The URI of `database` in the cluster whose socket is in `socket_dir`.
  static std::string url(const std::string& socket_dir, const std::string& database);

 private:
  struct Attach {
    std::string dir;
  };
  explicit PgCluster(Attach attach);
  std::vector<std::string> as_postgres(std::vector<std::string> argv) const;
  int run(const std::vector<std::string>& argv) const;  // exit status, output to ctl.log
  void spawn_reaper();
  void init_data_dir(const Options& options);
  void start_locked();
  void stop_locked(const char* mode);
  void exec_admin(const std::string& sql) const;
  std::string next_name(const std::string& hint);
  void teardown() noexcept;
  [[noreturn]] void fail(const std::string& what) const;

  mutable std::recursive_mutex mutex_;
  pid_t owner_pid_ = 0;  // a forked child that inherits the object leaves the cluster alone
  bool as_root_ = false;
  std::string bin_dir_;
  std::string runuser_;
  std::string dir_;
  pid_t reaper_pid_ = -1;
  int reaper_fd_ = -1;  // write end of the pipe whose EOF wakes the reaper
  unsigned counter_ = 0;
  bool attached_ = false;  // another's cluster: left running
  std::set<std::string> templates_;
};

}  // namespace sc::testing

#include "support/pg_cluster.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace sc::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr int kPort = 5432;  // only names the socket file; there is no TCP listener

// Starts argv (argv[0] a path) in `cwd`, with stdin from stdin_fd (or
// /dev/null) and stdout and stderr appended to `log`; returns its pid, or -1.
// setsid: the process and what it leaves behind (the reaper) get their own
// session, so a Ctrl-C or a signal to the test's process group spares them.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, int stdin_fd,
            const std::string& cwd, bool setsid) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Nothing else of the test's: a socket or pipe the test closes must not stay
  // open in a server or a reaper that outlives it.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // A directory the postgres user can enter (the test's may not be).
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (setsid) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::string find_runuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  throw std::runtime_error(
      "PgCluster: runuser not found (util-linux), needed to run PostgreSQL as root");
}

std::string make_temp_dir() {
  const char* env = std::getenv("TMPDIR");
  std::string base = env != nullptr && *env != '\0' ? env : "/tmp";
  std::string tmpl = (fs::path(base) / "sc-pg-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("PgCluster: mkdtemp failed for " + tmpl + ": " +
                             std::system_category().message(errno));
  }
  return buf.data();
}

// The postgres user must reach its directory: every ancestor searchable by
// others (a TMPDIR under /root is not).
void check_reachable(const std::string& dir) {
  for (fs::path p = fs::path(dir).parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      throw std::runtime_error("PgCluster: the postgres user cannot reach " + dir + " (" +
                               p.string() + " is not searchable by others); set TMPDIR=/tmp");
    }
    if (p == p.parent_path()) break;
  }
}

bool valid_identifier(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string percent_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string tail_of(const std::string& path, std::size_t max_lines) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

PgCluster& PgCluster::shared() {
  static const char* attach = std::getenv("SC_TEST_PG_DIR");
  if (attach != nullptr && *attach != '\0') {
    static PgCluster cluster(Attach{attach});
    return cluster;
  }
  static PgCluster cluster;  // destroyed at exit: stop and remove
  return cluster;
}

PgCluster::PgCluster(Attach attach) : dir_(std::move(attach.dir)) {
  owner_pid_ = ::getpid();
  attached_ = true;
  const char* bin = std::getenv("SC_PG_BIN");
  bin_dir_ = bin != nullptr && *bin != '\0' ? bin : kDefaultBinDir;
  std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdb(url_of("postgres").c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("PgCluster: no cluster answers in SC_TEST_PG_DIR=" + dir_ + ": " +
                             PQerrorMessage(conn.get()));
  }
}

PgCluster::PgCluster() : PgCluster(Options{}) {}

PgCluster::PgCluster(Options options) {
  owner_pid_ = ::getpid();
  as_root_ = ::geteuid() == 0;
  const char* bin = std::getenv("SC_PG_BIN");
  bin_dir_ = bin != nullptr && *bin != '\0' ? bin : kDefaultBinDir;
  if (::access((bin_dir_ + "/initdb").c_str(), X_OK) != 0) {
    throw std::runtime_error("PgCluster: no PostgreSQL server binaries in " + bin_dir_ +
                             " (scripts/install-deps.sh installs postgresql; SC_PG_BIN "
                             "names another directory)");
  }
  if (as_root_) runuser_ = find_runuser();
  dir_ = make_temp_dir();
  try {
    if (dir_.find_first_of("',\\") != std::string::npos) {
      throw std::runtime_error("PgCluster: " + dir_ +
                               ": a quote, comma or backslash cannot go into "
                               "unix_socket_directories; set TMPDIR to a plainer directory");
    }
    if ((dir_ + "/.s.PGSQL.5432").size() >= sizeof(sockaddr_un{}.sun_path)) {
      throw std::runtime_error("PgCluster: socket path too long under " + dir_ +
                               "; set TMPDIR to a shorter directory");
    }
    if (as_root_) {
      struct passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr)
        throw std::runtime_error("PgCluster: no user postgres (install postgresql)");
      check_reachable(dir_);
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("PgCluster: chown " + dir_ + " failed");
      }
    }
    // The socket is reachable by any local user (trust authentication, a
    // throwaway cluster); data/ itself is 0700.
    ::chmod(dir_.c_str(), 0755);
    spawn_reaper();
    init_data_dir(options);
    start_locked();
  } catch (...) {
    teardown();
    throw;
  }
}

PgCluster::~PgCluster() {
  if (::getpid() != owner_pid_ || attached_) return;
  teardown();
}

std::vector<std::string> PgCluster::as_postgres(std::vector<std::string> argv) const {
  if (!as_root_) return argv;
  std::vector<std::string> out{runuser_, "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

int PgCluster::run(const std::vector<std::string>& argv) const {
  pid_t pid = spawn(argv, dir_ + "/ctl.log", -1, dir_, false);
  if (pid < 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The reaper: `sh` blocked reading a pipe whose only write end this process
// holds (close-on-exec, so nothing it starts inherits it). However this
// process ends, the kernel closes that end, the read returns, and the reaper
// stops the server (immediate mode) and removes the directory. At a normal end
// the destructor does both itself and kills the reaper first.
void PgCluster::spawn_reaper() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("PgCluster: pipe failed");
  std::vector<std::string> argv{"/bin/sh", "-c",
                                "d=$1; shift; read line; "
                                "\"$@\" -D \"$d/data\" -m immediate -w stop; rm -rf -- \"$d\"",
                                "sc-pg-reaper", dir_};
  for (auto& a : as_postgres({bin_dir_ + "/pg_ctl"})) argv.push_back(a);
  reaper_pid_ = spawn(argv, "/dev/null", fds[0], "/", true);
  ::close(fds[0]);
  if (reaper_pid_ < 0) {
    ::close(fds[1]);
    throw std::runtime_error("PgCluster: could not start the reaper (/bin/sh)");
  }
  reaper_fd_ = fds[1];
}

void PgCluster::init_data_dir(const Options& options) {
  // C.UTF-8: byte-order collation like C, but upper()/lower() know non-ASCII letters.
  int rc = run(as_postgres({bin_dir_ + "/initdb", "-D", dir_ + "/data", "--auth=trust", "-U",
                            "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"}));
  if (rc != 0) fail("initdb failed (exit " + std::to_string(rc) + ")");
  std::ofstream conf(dir_ + "/data/postgresql.conf", std::ios::app);
  conf << "\n# PgCluster (tests/support/pg_cluster.cpp)\n"
       << "listen_addresses = ''\n"
       << "unix_socket_directories = '" << dir_ << "'\n"
       << "port = " << kPort << "\n"
       << "fsync = " << (options.durable ? "on" : "off") << "\n"
       << "full_page_writes = " << (options.durable ? "on" : "off") << "\n"
       << "synchronous_commit = on\n"
       << "max_connections = 200\n"
       << "shared_buffers = 16MB\n"
       << "logging_collector = off\n";
  for (const auto& line : options.extra_settings) conf << line << "\n";
  conf.close();
  if (!conf) fail("cannot write postgresql.conf");
}

void PgCluster::start_locked() {
  int rc = run(as_postgres({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log",
                            "-w", "-t", "60", "start"}));
  if (rc != 0) fail("pg_ctl start failed (exit " + std::to_string(rc) + ")");
}

void PgCluster::stop_locked(const char* mode) {
  int rc = run(as_postgres({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", mode, "-w", "stop"}));
  if (rc != 0) fail("pg_ctl stop failed (exit " + std::to_string(rc) + ")");
}

void PgCluster::start() {
  std::lock_guard lock(mutex_);
  start_locked();
}

void PgCluster::stop() {
  std::lock_guard lock(mutex_);
  stop_locked("fast");
}

void PgCluster::restart() {
  std::lock_guard lock(mutex_);
  int rc = run(as_postgres({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log",
                            "-m", "fast", "-w", "-t", "60", "restart"}));
  if (rc != 0) fail("pg_ctl restart failed (exit " + std::to_string(rc) + ")");
}

bool PgCluster::running() const { return postmaster_pid() != 0; }

pid_t PgCluster::postmaster_pid() const {
  std::ifstream in(dir_ + "/data/postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

std::string PgCluster::log_tail(std::size_t max_lines) const {
  return tail_of(dir_ + "/server.log", max_lines);
}

[[noreturn]] void PgCluster::fail(const std::string& what) const {
  std::string msg = "PgCluster: " + what + " in " + dir_;
  std::string ctl = tail_of(dir_ + "/ctl.log", 15);
  if (!ctl.empty()) msg += "\n--- pg_ctl/initdb output (tail) ---\n" + ctl;
  std::string log = log_tail();
  if (!log.empty()) msg += "--- server.log (tail) ---\n" + log;
  throw std::runtime_error(msg);
}

std::string PgCluster::url(const std::string& socket_dir, const std::string& database) {
  return "postgresql:///" + percent_encode(database) + "?host=" + percent_encode(socket_dir) +
         "&port=" + std::to_string(kPort) + "&user=postgres";
}

std::string PgCluster::url_of(const std::string& database) const { return url(dir_, database); }

void PgCluster::exec_admin(const std::string& sql) const {
  std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdb(url_of("postgres").c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    fail("cannot connect: " + std::string(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, ResultCloser> res(PQexec(conn.get(), sql.c_str()));
  auto status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("PgCluster: " + sql + ": " + PQerrorMessage(conn.get()));
  }
}

std::string PgCluster::next_name(const std::string& hint) {
  std::string clean;
  for (char c : hint.empty() ? std::string("t") : hint) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    clean += ok ? c : '_';
  }
  if (clean.size() > 40) clean.resize(40);
  // Attached, other test processes create databases in the same cluster.
  const std::string pid = attached_ ? std::to_string(::getpid()) + "_" : "";
  return "sc_" + clean + "_" + pid + std::to_string(++counter_);
}

std::string PgCluster::create_database(const std::string& name_hint) {
  std::lock_guard lock(mutex_);
  std::string name = next_name(name_hint);
  exec_admin("CREATE DATABASE " + name);
  return url_of(name);
}

std::string PgCluster::create_template(const std::string& name,
                                       const std::function<void(const std::string& url)>& prepare) {
  std::lock_guard lock(mutex_);
  if (!valid_identifier(name)) {
    throw std::invalid_argument("PgCluster: template name must match [a-z_][a-z0-9_]*: " + name);
  }
  if (templates_.count(name) != 0) return name;
  // Another process of the run may be making the same template: one makes
  // it, under a lock in the cluster; the others find it made.
  std::unique_ptr<PGconn, ConnCloser> locker(PQconnectdb(url_of("postgres").c_str()));
  auto sql = [&](const std::string& q) {
    std::unique_ptr<PGresult, ResultCloser> r(PQexec(locker.get(), q.c_str()));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      throw std::runtime_error("PgCluster: " + q + ": " + PQerrorMessage(locker.get()));
    return PQntuples(r.get()) > 0 ? std::string(PQgetvalue(r.get(), 0, 0)) : std::string();
  };
  sql("SELECT pg_advisory_lock(hashtext('" + name + "'))");
  if (sql("SELECT count(*) FROM pg_database WHERE datname = '" + name + "' AND datistemplate") ==
      "1") {
    templates_.insert(name);
    return name;
  }
  exec_admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");  // a half-made one
  exec_admin("CREATE DATABASE " + name);
  try {
    prepare(url_of(name));
  } catch (...) {
    exec_admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    throw;
  }
  exec_admin("ALTER DATABASE " + name + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false");
  exec_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name +
             "'");
  templates_.insert(name);
  return name;
}

std::string PgCluster::create_database_from_template(const std::string& template_name) {
  std::lock_guard lock(mutex_);
  if (templates_.count(template_name) == 0) {
    throw std::invalid_argument("PgCluster: no template " + template_name +
                                " (make it with create_template)");
  }
  std::string name = next_name(template_name);
  // PostgreSQL 15's default strategy (WAL_LOG): a block-by-block copy through
  // the WAL, no checkpoint.
  exec_admin("CREATE DATABASE " + name + " TEMPLATE " + template_name);
  return url_of(name);
}

void PgCluster::teardown() noexcept {
  if (!dir_.empty()) {
    if (postmaster_pid() != 0) {
      run(as_postgres(
          {bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"}));
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  if (reaper_pid_ > 0) {
    ::kill(reaper_pid_, SIGKILL);
    ::waitpid(reaper_pid_, nullptr, 0);
    reaper_pid_ = -1;
  }
  if (reaper_fd_ >= 0) {
    ::close(reaper_fd_);
    reaper_fd_ = -1;
  }
}

}  // namespace sc::testing

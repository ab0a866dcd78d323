#include "support/service_process.h"

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace sc::testing {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, const fs::path& out,
            const fs::path& err) {
  std::vector<std::string> envs;
  for (const char* keep :
       {"PATH", "HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"}) {
    if (env.count(keep) != 0) continue;  // the test's own value wins
    if (const char* v = std::getenv(keep)) envs.push_back(std::string(keep) + "=" + v);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> argv{const_cast<char*>(binary.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* o = std::fopen(out.c_str(), "w");
    FILE* e = std::fopen(err.c_str(), "w");
    if (o) ::dup2(fileno(o), 1);
    if (e) ::dup2(fileno(e), 2);
    ::execve(binary.c_str(), argv.data(), envp.data());
    std::_Exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid, std::chrono::seconds timeout) {
  int status = 0;
  bool done = wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
                       std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult run_binary(const std::string& binary, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  TempDir d;
  pid_t pid = spawn(binary, args, env, d.path() / "out", d.path() / "err");
  RunResult r;
  r.exit_code = wait_exit(pid, timeout);
  r.out = slurp(d.path() / "out");
  r.err = slurp(d.path() / "err");
  return r;
}

ServiceProcess::ServiceProcess(std::string binary, std::map<std::string, std::string> env)
    : binary_(std::move(binary)), env_(std::move(env)) {
  env_.emplace("SC_LISTEN", "127.0.0.1:0");
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) stop(SIGKILL, std::chrono::seconds(5));
}

bool ServiceProcess::start() {
  ++runs_;
  auto out = logs_.path() / ("out." + std::to_string(runs_));
  auto err = logs_.path() / ("err." + std::to_string(runs_));
  pid_ = spawn(binary_, {"serve"}, env_, out, err);
  static const std::regex kListening(R"(listening on http://[^:]+:(\d+)/)");
  bool up = wait_for(
      [&] {
        std::smatch m;
        auto text = slurp(out);
        if (std::regex_search(text, m, kListening)) {
          port_ = std::stoi(m[1]);
          return true;
        }
        int status;
        return ::waitpid(pid_, &status, WNOHANG) == pid_ ? (pid_ = -1, true) : false;
      },
      std::chrono::seconds(20));
  if (!up || pid_ < 0) return false;
  httplib::Client cli("127.0.0.1", port_);
  return wait_for([&] {
    auto r = cli.Get("/healthz");
    return r && r->status == 200;
  });
}

bool ServiceProcess::running() {
  if (pid_ <= 0) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ServiceProcess::stop(int sig, std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  int code = wait_exit(pid_, timeout);
  pid_ = -1;
  return code;
}

void ServiceProcess::kill_hard() { stop(SIGKILL, std::chrono::seconds(5)); }

std::string ServiceProcess::stdout_text() const {
  return slurp(logs_.path() / ("out." + std::to_string(runs_)));
}
std::string ServiceProcess::stderr_text() const {
  return slurp(logs_.path() / ("err." + std::to_string(runs_)));
}

}  // namespace sc::testing

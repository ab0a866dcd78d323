// ServiceProcess: the real `stayconnected` binary as a child process, on a
// temp directory and a free loopback port, for integration tests.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "support/wait_for.h"

namespace sc::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the binary to completion (for config errors, --help, migrate).
RunResult run_binary(const std::string& binary, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env,
                     std::chrono::seconds timeout = std::chrono::seconds(30));

class ServiceProcess {
 public:
  // env is the whole environment of the child (plus PATH, HOME, TMPDIR and
  // the sanitizers' options unless env sets them); SC_LISTEN
  // defaults to 127.0.0.1:0 and the port is read back from its first line.
  ServiceProcess(std::string binary, std::map<std::string, std::string> env);
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // Starts and waits until /healthz answers 200. Returns false on failure.
  bool start();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool running();
  // Sends sig and waits for exit; returns the exit code (128+n for a signal).
  int stop(int sig = 15, std::chrono::seconds timeout = std::chrono::seconds(20));
  void kill_hard();  // SIGKILL, as a crash would
  std::string stdout_text() const;
  std::string stderr_text() const;
  std::map<std::string, std::string>& env() { return env_; }

 private:
  std::string binary_;
  std::map<std::string, std::string> env_;
  TempDir logs_;
  pid_t pid_ = -1;
  int port_ = 0;
  int runs_ = 0;
};

}  // namespace sc::testing

// NginxProcess: a real nginx in the foreground on its own prefix (a temp
// directory), for integration tests that run the service behind the shipped
// proxy settings (deploy/nginx/). nginx_check() runs `nginx -t` on a
// configuration, for tests of the shipped examples.
#pragma once
#include <sys/types.h>

#include <string>

#include "support/service_process.h"

namespace sc::testing {

// The nginx binary, or "" when nginx is not installed.
std::string nginx_binary();

// A free loopback port (bound and released; the caller binds it next).
int free_port();

// The configuration nginx runs with: the process settings (no daemon, one
// process, logs and temporary files under `prefix`) around `http_body`,
// which goes inside `http { }` (upstreams, zones, server blocks).
std::string nginx_config(const std::string& prefix, const std::string& http_body);

// `nginx -t` on nginx_config(prefix, http_body): exit code 0 and nginx's
// "syntax is ok" / "test is successful", or its error, in err.
RunResult nginx_check(const std::string& prefix, const std::string& http_body);

class NginxProcess {
 public:
  // Starts nginx on nginx_config(prefix, http_body); `port` is the port a
  // server block of http_body listens on (ready() waits for it).
  NginxProcess(const std::string& prefix, const std::string& http_body, int port);
  ~NginxProcess();  // SIGTERM and wait
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  // Waits (bounded) until the port accepts connections.
  bool ready();
  int port() const { return port_; }
  std::string log() const;  // the error log (info level)

 private:
  int port_;
  pid_t pid_ = -1;
  std::string error_log_;
};

}  // namespace sc::testing

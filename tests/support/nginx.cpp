#include "support/nginx.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/raw_http.h"
#include "support/wait_for.h"

namespace sc::testing {

std::string nginx_binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string nginx_config(const std::string& prefix, const std::string& http_body) {
  std::filesystem::create_directories(prefix + "/logs");
  std::ostringstream conf;
  conf << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
       << "error_log " << prefix << "/logs/error.log info;\npid " << prefix << "/nginx.pid;\n"
       << "events { worker_connections 512; }\n"
       << "http {\n  access_log off;\n"
       << "  client_body_temp_path " << prefix << "/body;\n  proxy_temp_path " << prefix
       << "/proxy;\n"
       << "  fastcgi_temp_path " << prefix << "/fcgi;\n  uwsgi_temp_path " << prefix << "/uwsgi;\n"
       << "  scgi_temp_path " << prefix << "/scgi;\n"
       << http_body << "\n}\n";
  return conf.str();
}

namespace {

std::string write_config(const std::string& prefix, const std::string& http_body) {
  const auto path = prefix + "/nginx.conf";
  const auto text = nginx_config(prefix, http_body);  // makes the directories first
  std::ofstream(path) << text;
  return path;
}

}  // namespace

RunResult nginx_check(const std::string& prefix, const std::string& http_body) {
  const auto conf = write_config(prefix, http_body);
  return run_binary(nginx_binary(),
                    {"-t", "-p", prefix, "-c", conf, "-e", prefix + "/logs/error.log"}, {});
}

NginxProcess::NginxProcess(const std::string& prefix, const std::string& http_body, int port)
    : port_(port), error_log_(prefix + "/logs/error.log") {
  const auto binary = nginx_binary();
  const auto conf = write_config(prefix, http_body);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execl(binary.c_str(), binary.c_str(), "-p", prefix.c_str(), "-c", conf.c_str(), "-e",
            error_log_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

NginxProcess::~NginxProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

bool NginxProcess::ready() {
  return wait_for([&] {
    RawConnection c(port_);
    return c.connected();
  });
}

std::string NginxProcess::log() const {
  std::ifstream in(error_log_);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sc::testing

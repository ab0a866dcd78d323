// A full disk under SQLite, for real: the database on an 8 MB tmpfs, filled
// while sign-ups keep coming. Sign-ups get 503 with Retry-After and nothing
// acknowledged is lost; /healthz says "degraded" with the reason (it used to
// say "ok" while every write failed); the log stays bounded (a 24 MB disk
// once took 187,000 identical lines in 20 s); and once space is freed,
// writes resume and health is ok again. Needs root (mount); skipped without.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "service_fixture.h"
#include "support/wait_for.h"

namespace sc::testing {
namespace {

namespace fs = std::filesystem;

// A small tmpfs at `dir`, unmounted (lazily, should the service still hold
// it) on scope exit.
class SmallDisk {
 public:
  explicit SmallDisk(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    // mode=0700: the data directory check refuses one others can write.
    // 8 MB: the WAL alone grows to about 4 MB before its first checkpoint
    // (1000 pages), so a smaller disk is full without the filler, for good.
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=8m,mode=0700") == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes a filler file until the filesystem refuses (ENOSPC); its size.
  std::size_t fill() {
    const auto path = dir_ / "filler";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    std::size_t total = 0;
    const std::vector<char> block(4096, 'x');
    for (std::size_t chunk : {std::size_t{65536}, std::size_t{4096}, std::size_t{1}}) {
      while (true) {
        std::size_t wrote = 0;
        while (wrote < chunk) {
          auto n = ::write(fd, block.data(), std::min(block.size(), chunk - wrote));
          if (n <= 0) break;
          wrote += static_cast<std::size_t>(n);
        }
        total += wrote;
        if (wrote < chunk) break;
      }
    }
    ::close(fd);
    return total;
  }
  void free_space() { fs::remove(dir_ / "filler"); }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

// What the sign-up clients saw.
struct Answers {
  std::mutex mu;
  std::vector<std::string> acknowledged;  // 2xx
  std::int64_t unavailable = 0;           // 503
  std::int64_t without_retry_after = 0;   // 503 lacking Retry-After
  std::vector<std::string> other;         // anything else, for the failure message
};

class FullDiskTest : public ServiceTest {
 protected:
  // Sign-ups from `threads` clients until `stop`, each address once.
  void sign_up_until(std::atomic<bool>& stop, Answers& a, int threads,
                     std::vector<std::thread>& out) {
    for (int t = 0; t < threads; ++t) {
      out.emplace_back([this, &stop, &a, t] {
        httplib::Client c("127.0.0.1", svc_->port());
        c.set_read_timeout(10, 0);
        for (int i = 0; !stop.load(); ++i) {
          const auto email = "u" + std::to_string(t) + "-" + std::to_string(i) + "@example.org";
          auto r = c.Post("/api/v1/subscriptions", nlohmann::json{{"email", email}}.dump(),
                          "application/json");
          std::lock_guard lk(a.mu);
          if (!r) {
            a.other.push_back("no answer: " + httplib::to_string(r.error()));
          } else if (r->status / 100 == 2) {
            a.acknowledged.push_back(email);
          } else if (r->status == 503) {
            ++a.unavailable;
            if (!r->has_header("Retry-After")) ++a.without_retry_after;
          } else {
            a.other.push_back(std::to_string(r->status) + " " + r->body);
          }
        }
      });
    }
  }

  nlohmann::json health(int& status) {
    auto r = cli_->Get("/healthz");
    if (!r) return nullptr;
    status = r->status;
    return nlohmann::json::parse(r->body);
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_F(FullDiskTest, SignUpsGet503HealthSaysDegradedTheLogStaysBoundedAndWritesResume) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs for the full disk";
  SmallDisk disk(dir_.path() / "disk");
  if (!disk.mounted()) GTEST_SKIP() << "mount -t tmpfs refused here: " << disk.error();
  const auto db = (dir_.path() / "disk" / "sc.db").string();
  start({{"SC_DB", db}, {"SC_SIGNUP_LIMITS", "off"}});
  const auto log_before = lines_of(svc_->stderr_text()).size();

  Answers a;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  struct Join {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Join() {
      stop = true;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } join{stop, clients};
  sign_up_until(stop, a, 4, clients);
  // Some sign-ups in, then the disk fills under them.
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lk(a.mu);
    return a.acknowledged.size() >= 50;
  }));
  ASSERT_GT(disk.fill(), 0u);
  int status = 0;
  nlohmann::json h;
  ASSERT_TRUE(wait_for(
      [&] {
        h = health(status);
        return status == 503 && h.is_object() && h["status"] == "degraded";
      },
      std::chrono::seconds(60)))
      << status << " " << h.dump();
  EXPECT_EQ(h["reason"], "database cannot write: database or disk is full") << h.dump();
  EXPECT_EQ(h["database"]["writable"], false) << h.dump();
  EXPECT_EQ(h["database"]["reason"], h["reason"]);
  EXPECT_TRUE(h["database"]["since"].is_string()) << h.dump();
  EXPECT_EQ(h.dump().find(db), std::string::npos) << "no path in the public health answer";
  // Many failed sign-ups: enough to have flooded the log before.
  ASSERT_TRUE(wait_for(
      [&] {
        std::lock_guard lk(a.mu);
        return a.unavailable >= 3000;
      },
      std::chrono::seconds(120)));
  const auto failed_log = lines_of(svc_->stderr_text());

  // Space again: writes resume, health is ok again after the next commit.
  disk.free_space();
  std::size_t acknowledged_when_freed = 0;
  {
    std::lock_guard lk(a.mu);
    acknowledged_when_freed = a.acknowledged.size();
  }
  ASSERT_TRUE(wait_for(
      [&] {
        std::lock_guard lk(a.mu);
        return a.acknowledged.size() >= acknowledged_when_freed + 50;
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(wait_for([&] {
    h = health(status);
    return status == 200 && h.is_object() && h["status"] == "ok";
  })) << status
      << " " << h.dump();
  EXPECT_EQ(h["database"], nlohmann::json({{"writable", true}}));
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();

  std::lock_guard lk(a.mu);
  EXPECT_TRUE(a.other.empty()) << a.other.size() << " other answers, first: " << a.other.front();
  EXPECT_EQ(a.without_retry_after, 0) << "of " << a.unavailable << " 503 answers";
  // The log: a handful of lines for thousands of failures, each kind at
  // most once per 10 s with a count of the ones left out.
  const auto during = failed_log.size() - log_before;
  std::string shown;
  for (std::size_t i = log_before; i < failed_log.size(); ++i) shown += failed_log[i] + "\n";
  std::cout << "full disk: " << a.unavailable << " sign-ups answered 503, " << a.acknowledged.size()
            << " acknowledged, " << during << " log lines while the disk was full:\n"
            << shown;
  EXPECT_LE(during, 30u) << shown;
  EXPECT_NE(shown.find("database or disk is full"), std::string::npos) << shown;
  // Nothing acknowledged was lost, and the file is sound.
  EXPECT_EQ(db_inspect::query_value(db, "PRAGMA integrity_check"), "ok");
  const auto stored =
      db_inspect::query_value(db, "SELECT group_concat(address, ' ') FROM channels");
  std::set<std::string> in_db;
  std::istringstream words(stored);
  for (std::string w; words >> w;) in_db.insert(w);
  std::size_t lost = 0;
  for (const auto& e : a.acknowledged) lost += in_db.count(e) == 0;
  EXPECT_EQ(lost, 0u) << "of " << a.acknowledged.size() << " acknowledged sign-ups";
}

}  // namespace
}  // namespace sc::testing

// Internal to http: a TaskQueue that grows a thread per waiting connection.
// cpp-httplib serves each keep-alive connection on one pool thread for its
// whole life, so a fixed pool lets idle connections starve new clients; this
// pool adds a thread whenever none is free (up to a cap) instead.
#pragma once
#include <httplib.h>
#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sc::detail {

class ElasticPool final : public httplib::TaskQueue {
 public:
  ElasticPool(std::size_t min_threads, std::size_t max_threads) : max_(max_threads) {
    std::lock_guard lk(mu_);
    for (std::size_t i = 0; i < min_threads; ++i) spawn();
  }
  ~ElasticPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(fn));
      if (idle_ < jobs_.size() && threads_.size() < max_) spawn();
    }
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void spawn() {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "sc-http");
      std::unique_lock lk(mu_);
      while (true) {
        ++idle_;
        cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) return;  // stopping and drained
        auto fn = std::move(jobs_.front());
        jobs_.pop_front();
        lk.unlock();
        fn();
        lk.lock();
      }
    });
  }

  std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace sc::detail

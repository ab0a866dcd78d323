// Internal to http: a TaskQueue that grows a thread per waiting connection.
// cpp-httplib serves each keep-alive connection on one pool thread for its
// whole life, so a fixed pool lets idle connections starve new clients; this
// pool adds a thread whenever none is free (up to a cap) instead, and lets a
// thread above the minimum exit after it has idled for `idle_reap`, so a
// burst of connections does not leave a thousand threads (and their stacks)
// behind.
#pragma once
#include <httplib.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace sc::detail {

class ElasticPool final : public httplib::TaskQueue {
 public:
  ElasticPool(std::size_t min_threads, std::size_t max_threads,
              std::chrono::milliseconds idle_reap = std::chrono::seconds(30))
      : min_(min_threads), max_(max_threads), idle_reap_(idle_reap) {
    std::lock_guard lk(mu_);
    for (std::size_t i = 0; i < min_threads; ++i) spawn();
  }
  ~ElasticPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(fn));
      join_exited();
      if (idle_ < jobs_.size() && threads_.size() - exited_.size() < max_) spawn();
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

  std::size_t threads() {
    std::lock_guard lk(mu_);
    return threads_.size() - exited_.size();
  }

 private:
  // Threads that have left are joined here (they hold no lock by then, so
  // each join returns at once). Called with mu_ held.
  void join_exited() {
    for (auto it : exited_) {
      it->join();
      threads_.erase(it);
    }
    exited_.clear();
  }

  // Called with mu_ held.
  void spawn() {
    threads_.emplace_back();
    auto self = std::prev(threads_.end());
    *self = std::thread([this, self] {
      pthread_setname_np(pthread_self(), "sc-http");
      std::unique_lock lk(mu_);
      while (true) {
        ++idle_;
        bool woke = cv_.wait_for(lk, idle_reap_, [&] { return stopping_ || !jobs_.empty(); });
        --idle_;
        if (!woke && !stopping_ && threads_.size() - exited_.size() > min_) {
          exited_.push_back(self);  // idle too long: leave, spawn() joins us
          return;
        }
        if (!woke) continue;
        if (jobs_.empty()) return;  // stopping and drained
        auto fn = std::move(jobs_.front());
        jobs_.pop_front();
        lk.unlock();
        fn();
        lk.lock();
      }
    });
  }

  std::size_t min_, max_;
  std::chrono::milliseconds idle_reap_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> threads_;  // stable positions: a thread knows its own
  std::vector<std::list<std::thread>::iterator> exited_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace sc::detail

// RAII over libcurl: the global init, easy handles, header lists and multi
// handles every HTTP and SMTP sender uses. Internal to the providers module,
// so no public header drags in <curl/curl.h>.
#pragma once
#include <curl/curl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace sc::providers {

// curl_global_init is not thread-safe in 7.88; every wrapper calls this
// first so the (once-only) init happens before the first handle exists.
void ensure_curl_global_init();

// An error from libcurl that no send result can express (out of memory,
// a handle that cannot be created).
class CurlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A curl_slist that frees itself; appending never loses the old list.
class CurlSlist {
 public:
  CurlSlist() = default;
  CurlSlist(const CurlSlist&) = delete;
  CurlSlist& operator=(const CurlSlist&) = delete;
  CurlSlist(CurlSlist&& o) noexcept : list_(std::exchange(o.list_, nullptr)) {}
  CurlSlist& operator=(CurlSlist&& o) noexcept {
    if (this != &o) {
      reset();
      list_ = std::exchange(o.list_, nullptr);
    }
    return *this;
  }
  ~CurlSlist() { reset(); }

  void append(const std::string& line) {
    curl_slist* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) throw CurlError("curl_slist_append failed");
    list_ = next;
  }
  void reset() {
    if (list_ != nullptr) curl_slist_free_all(list_);
    list_ = nullptr;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// One CURL* easy handle. Keeping it alive keeps its connection cache, which is
// how the senders reuse TCP/TLS connections across messages.
class CurlEasy {
 public:
  CurlEasy() {
    ensure_curl_global_init();
    handle_ = curl_easy_init();
    if (handle_ == nullptr) throw CurlError("curl_easy_init failed");
  }
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;
  CurlEasy(CurlEasy&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  CurlEasy& operator=(CurlEasy&& o) noexcept {
    if (this != &o) {
      if (handle_ != nullptr) curl_easy_cleanup(handle_);
      handle_ = std::exchange(o.handle_, nullptr);
    }
    return *this;
  }
  ~CurlEasy() {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }

  // Options are set once per handle; a failure here is a programming or
  // build error (option unsupported by this libcurl), never a send failure.
  template <class T>
  void set(CURLoption option, T value) {
    CURLcode rc = curl_easy_setopt(handle_, option, value);
    if (rc != CURLE_OK) {
      throw CurlError(std::string("curl_easy_setopt(") + std::to_string(static_cast<int>(option)) +
                      ") failed: " + curl_easy_strerror(rc));
    }
  }
  CURLcode perform() { return curl_easy_perform(handle_); }
  long response_code() const {
    long code = 0;
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }
  // Drops every option (not the connection cache), for handles reused for
  // different kinds of transfer.
  void reset_options() { curl_easy_reset(handle_); }
  CURL* get() const { return handle_; }

 private:
  CURL* handle_ = nullptr;
};

// A CURLM multi handle. Its connection cache outlives the easy handles
// attached to it, so keeping one per sender reuses connections across batches.
class CurlMulti {
 public:
  CurlMulti() {
    ensure_curl_global_init();
    handle_ = curl_multi_init();
    if (handle_ == nullptr) throw CurlError("curl_multi_init failed");
  }
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;
  ~CurlMulti() {
    if (handle_ != nullptr) curl_multi_cleanup(handle_);
  }

  template <class T>
  void set(CURLMoption option, T value) {
    CURLMcode rc = curl_multi_setopt(handle_, option, value);
    if (rc != CURLM_OK)
      throw CurlError(std::string("curl_multi_setopt failed: ") + curl_multi_strerror(rc));
  }
  void add(CurlEasy& easy) {
    CURLMcode rc = curl_multi_add_handle(handle_, easy.get());
    if (rc != CURLM_OK)
      throw CurlError(std::string("curl_multi_add_handle failed: ") + curl_multi_strerror(rc));
  }
  void remove(CURL* easy) { curl_multi_remove_handle(handle_, easy); }
  CURLM* get() const { return handle_; }

 private:
  CURLM* handle_ = nullptr;
};

}  // namespace sc::providers

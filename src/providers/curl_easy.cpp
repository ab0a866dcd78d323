#include "curl_easy.h"

#include <mutex>

namespace sc::providers {

void ensure_curl_global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode rc = curl_global_init(CURL_GLOBAL_ALL);
    if (rc != CURLE_OK)
      throw CurlError(std::string("curl_global_init failed: ") + curl_easy_strerror(rc));
  });
}

}  // namespace sc::providers

// ImportRunner: applies stored imports (sc/core/import.h), one part per
// background transaction, on a thread of its own. Any instance may run any
// import: it claims one with a lease (the database's clock) that each part
// renews; one whose instance died is taken over where it stopped. The CLI's
// `stayconnected import` runs its own import through the same runner.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "sc/core/consent_service.h"
#include "sc/core/import.h"
#include "sc/core/ports/services.h"
#include "sc/core/throttled_log.h"

namespace sc {

class ImportRunner {
 public:
  struct Options {
    std::int64_t lease_ms = 60'000;
    int poll_ms = 2000;
    ImportSettings settings;
  };
  ImportRunner(ConsentService& service, ImportTransactions& tx, ImportReads& reads,
               const Clock& clock, Options options);
  ~ImportRunner();
  ImportRunner(const ImportRunner&) = delete;
  ImportRunner& operator=(const ImportRunner&) = delete;

  void start();
  void stop();
  void wake();  // an import was stored: look now

  // One step: drops dead uploads and claims an import when none is held,
  // then applies its next part (or finishes it). True while there is more
  // to do at once. Tests and the CLI drive it directly.
  bool step();
  // The import this runner holds (0: none).
  std::int64_t current() const;

 private:
  void loop();
  void claim();
  void finish(ImportStatus status, const std::string& error);

  ConsentService& service_;
  ImportTransactions& tx_;
  ImportReads& reads_;
  const Clock& clock_;
  Options options_;
  std::optional<ImportJob> job_;
  std::unique_ptr<ImportEngine> engine_;
  std::int64_t next_part_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false, woken_ = false;
  std::thread thread_;
  ThrottledLog failures_log_;
};

}  // namespace sc

// UnitOfWork: the port request handlers write through. Storage runs the
// function against the stores of one transaction (sc/core/ports/stores.h)
// and returns only after it has committed; a function that throws is rolled
// back, and so is everything it wrote.
#pragma once
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "sc/core/ports/stores.h"

namespace sc {

class UnitOfWork {
 public:
  virtual ~UnitOfWork() = default;
  // Runs fn in one transaction. Infrastructure failures (disk, locked or
  // corrupt database) are exceptions; nothing of fn's writes is kept then.
  // An admin action and its audit row (tx.audit) commit together or not at all.
  virtual void run(const std::function<void(const Transaction&)>& fn) = 0;

  // run() for a function with a result.
  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F&, const Transaction&> {
    using R = std::invoke_result_t<F&, const Transaction&>;
    if constexpr (std::is_void_v<R>) {
      run([&](const Transaction& tx) { f(tx); });
    } else {
      std::optional<R> out;
      run([&](const Transaction& tx) { out.emplace(f(tx)); });
      return std::move(*out);
    }
  }
};

}  // namespace sc

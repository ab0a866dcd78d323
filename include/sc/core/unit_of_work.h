// UnitOfWork: the port request handlers write through. Storage runs the
// function against the consent store inside one transaction and returns only
// after it has committed; a function that throws is rolled back, and so is
// everything it wrote.
#pragma once
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "sc/core/admin.h"
#include "sc/core/ports.h"

namespace sc {

class UnitOfWork {
 public:
  virtual ~UnitOfWork() = default;
  // Runs fn in one transaction. Infrastructure failures (disk, locked or
  // corrupt database) are exceptions; nothing of fn's writes is kept then.
  virtual void run(const std::function<void(ConsentStore&)>& fn) = 0;
  // run() with the audit log in the same transaction: an admin action and
  // its audit row are committed together or not at all.
  virtual void run_audited(const std::function<void(ConsentStore&, AuditLog&)>& fn) = 0;

  // run() for a function with a result.
  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F&, ConsentStore&> {
    using R = std::invoke_result_t<F&, ConsentStore&>;
    if constexpr (std::is_void_v<R>) {
      run([&](ConsentStore& s) { f(s); });
    } else {
      std::optional<R> out;
      run([&](ConsentStore& s) { out.emplace(f(s)); });
      return std::move(*out);
    }
  }
};

}  // namespace sc

// FileEmailSender: the `file` email provider, one .eml file per message in a
// directory (a local outbox for development and tests).
#pragma once
#include <filesystem>
#include <string>

#include "sc/core/message.h"

namespace sc::providers {

class FileEmailSender final : public EmailSender {
 public:
  // The directory is created on first use when missing.
  explicit FileEmailSender(std::filesystem::path dir);
  std::string name() const override { return "file"; }
  // Writes <outbox_id>-<message id>.eml atomically (temp file + rename), so a
  // retry of the same message replaces its file instead of adding one.
  SendResult send(const OutboundEmail& message) override;
  // The file a message is (or would be) written to.
  std::filesystem::path path_for(const OutboundEmail& message) const;
  // Removes the files of those messages (<outbox_id>-*.eml).
  void forget(std::string_view address, std::span<const std::int64_t> outbox_ids) override;

 private:
  std::filesystem::path dir_;
};

}  // namespace sc::providers

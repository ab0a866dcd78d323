// The core ports the HTTP layer uses, over the storage classes: request
// writes through the single writer, lookups through the read pool.
#pragma once
#include "sc/core/ports/reads.h"
#include "sc/core/ports/unit_of_work.h"
#include "sc/core/subscriber_list.h"
#include "sc/storage/storage.h"

namespace sc::storage {

// Each run() is one WriteQueue request job: committed (group commit) before
// it returns, rolled back alone when it throws.
class QueuedUnitOfWork final : public UnitOfWork {
 public:
  explicit QueuedUnitOfWork(WriteQueue& writer) : writer_(writer) {}
  void run(const std::function<void(const Transaction&)>& fn) override;

 private:
  WriteQueue& writer_;
};

class PooledReadStore final : public ReadStore {
 public:
  explicit PooledReadStore(ReadPool& reads) : reads_(reads) {}
  std::optional<SubscriberView> subscriber_by_channel(ChannelKind kind,
                                                      const std::string& address) override;
  std::vector<ConsentLogView> unknown_number_log(const std::string& address) override;
  std::vector<StoredInboundText> inbound_for_review(int limit, std::int64_t before) override;
  bool healthy() override;

 private:
  ReadPool& reads_;
};

class PooledSubscriberReads final : public SubscriberReads {
 public:
  explicit PooledSubscriberReads(ReadPool& reads) : reads_(reads) {}
  std::vector<SubscriberSummary> list(const SubscriberQuery& q) override {
    return reads_.subscribers(q);
  }
  std::optional<SubscriberDetail> find(std::int64_t id, int max_messages) override {
    return reads_.subscriber(id, max_messages);
  }
  std::optional<std::int64_t> subscriber_of_channel(std::int64_t channel_id) override {
    return reads_.subscriber_of_channel(channel_id);
  }
  std::vector<ChannelCount> channel_counts() override { return reads_.channel_counts(); }
  SubscriberStats stats(std::int64_t now) override { return reads_.subscriber_stats(now); }
  std::vector<ExportedSubscriber> export_page(std::int64_t after_id, int limit) override {
    return reads_.export_page(after_id, limit);
  }
  std::optional<SuppressionView> suppression(ChannelKind kind, const std::string& key) override {
    return reads_.suppression(kind, key);
  }
  std::vector<ConsentLogView> erased_consent(const std::string& pseudonym) override {
    return reads_.erased_consent(pseudonym);
  }

 private:
  ReadPool& reads_;
};

}  // namespace sc::storage

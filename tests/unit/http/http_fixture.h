// The real HttpServer on 127.0.0.1, port 0, in this process, against
// in-memory fakes of every port it uses (as cpp-httplib's own tests run
// theirs: bind_to_any_port, listen in a thread, wait_until_ready, stop and
// join on scope exit).
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/http/server.h"
#include "support/unit_fakes.h"

namespace sc::unit {

// Runs every write against one MemoryConsentStore, one at a time; throws
// (as a full disk would) while `fail` is set, before anything is written.
class FakeUnitOfWork final : public UnitOfWork {
  // Counts whether a run wrote an audit row; no audit log: the rows are dropped.
  struct RunAudit final : AuditLog {
    explicit RunAudit(AuditLog* to) : to_(to) {}
    void append(const AuditEntry& e) override {
      appended = true;
      if (to_ != nullptr) to_->append(e);
    }
    bool appended = false;
    AuditLog* to_;
  };

 public:
  explicit FakeUnitOfWork(MemoryConsentStore& store) : store_(store) {}
  // The audit log is the one `audit` points to (HttpTest: the FakeAdminStore's).
  void run(const std::function<void(const Transaction&)>& fn) override {
    std::lock_guard lk(mu_);
    ++runs;
    if (fail) throw std::runtime_error("disk I/O error");
    RunAudit log{audit};
    fn(Transaction{store_, store_, store_, store_, store_, store_, store_, log, store_, store_});
    if (log.appended) ++audited_runs;
  }
  std::atomic<bool> fail{false};
  std::atomic<int> runs{0};
  std::atomic<int> audited_runs{0};  // runs that wrote an audit row
  AuditLog* audit = nullptr;
  // Lookups (FakeReadStore) take the same lock: the server's threads share the store.
  std::mutex& mutex() { return mu_; }

 private:
  std::mutex mu_;
  MemoryConsentStore& store_;
};

// Lookups straight from the same MemoryConsentStore.
class FakeReadStore final : public ReadStore {
 public:
  FakeReadStore(MemoryConsentStore& store, std::mutex& mu) : store_(store), mu_(mu) {}
  std::optional<SubscriberView> subscriber_by_channel(ChannelKind kind,
                                                      const std::string& address) override;
  std::vector<ConsentLogView> unknown_number_log(const std::string& address) override;
  std::vector<StoredInboundText> inbound_for_review(int limit, std::int64_t before) override;
  bool healthy() override {
    if (fail) throw std::runtime_error("database is locked");
    return up;
  }
  std::atomic<bool> up{true};
  std::atomic<bool> fail{false};
  std::vector<std::pair<ChannelKind, std::string>> lookups;

 private:
  MemoryConsentStore& store_;
  std::mutex& mu_;
};

// Pages name their template, variables and flags; TwiML names the reply
// template, so tests see exactly what the server asked to be rendered.
class FakePages final : public PageRenderer {
 public:
  std::string page(std::string_view name, const Vars& vars,
                   const std::set<std::string>& flags) const override;
  std::string twiml_reply(std::string_view reply_template, const Vars& vars) const override;
};

// "Signs" with the URL and the parameters in order; records every URL it
// was asked about. A parameter whose value is kMalformed has the wrong shape.
class FakeVerifier final : public WebhookVerifier {
 public:
  static constexpr const char* kMalformed = "malformed-sid";
  static std::string signature(std::string_view url, const FormParams& params);
  bool verify(std::string_view url, const FormParams& params,
              std::string_view signature) const override;
  std::string malformed_param(const FormParams& params) const override {
    for (const auto& [k, v] : params)
      if (v == kMalformed) return k;
    return {};
  }
  mutable std::vector<std::string> urls;  // under mu
  mutable std::mutex mu;
};

// "Signs" timestamp + body as their length and a checksum: any change to
// either fails, and tests can sign payloads of their own.
class FakePayloadVerifier final : public SignedPayloadVerifier {
 public:
  static std::string signature(std::string_view timestamp, std::string_view body);
  bool verify(std::string_view timestamp, std::string_view body,
              std::string_view signature) const override {
    return signature == FakePayloadVerifier::signature(timestamp, body);
  }
};

// Digits only; +1 added to 10 digits; +44 numbers are in a country not texted.
class FakePhones final : public PhoneNormalizer {
 public:
  Result<std::string> normalize(std::string_view raw) const override;
};

// Stored admin keys by their text, and the audit log, in memory.
class FakeAdminStore final : public AdminStore {
 public:
  void add_key(const std::string& key, const std::string& name, Scope scope);
  void revoke(const std::string& name);
  std::optional<AdminIdentity> identify(std::string_view key) override;
  void append_audit(const AuditEntry& e) override;  // throws while `fail` is set
  AuditPage audit_page(std::int64_t before, int limit) override;
  std::vector<AuditEntry> entries() const;
  // The (before, limit) of each audit_page call.
  std::vector<std::pair<std::int64_t, int>> pages_asked() const;
  std::atomic<bool> fail{false};

 private:
  struct Key {
    std::string name;
    Scope scope = Scope::kRead;
    bool revoked = false;
  };
  mutable std::mutex mu_;
  std::map<std::string, Key> keys_;
  std::vector<AuditEntry> entries_;
  std::vector<std::pair<std::int64_t, int>> pages_asked_;
};

// The AuditLog port over a FakeAdminStore (throws while its `fail` is set).
class FakeAuditLog final : public AuditLog {
 public:
  explicit FakeAuditLog(FakeAdminStore& store) : store_(store) {}
  void append(const AuditEntry& e) override { store_.append_audit(e); }

 private:
  FakeAdminStore& store_;
};

inline constexpr const char* kPublicUrl = "https://signup.example.org";
inline constexpr const char* kAdminKey = "admin-key-0123456789";

class HttpTest : public ::testing::Test {
 protected:
  HttpTest();
  ~HttpTest() override;

  // Starts (or restarts) the server with these options and ports.
  void start(HttpOptions options = test_options());
  void stop();
  static HttpOptions test_options();
  void sync_with_server();

  httplib::Result get(const std::string& path, httplib::Headers h = {});
  httplib::Result post(const std::string& path, const std::string& body, const std::string& type,
                       httplib::Headers h = {});
  httplib::Result post_json(const std::string& path, const nlohmann::json& body);
  // error.code of a JSON error answer ("" when the body is not one).
  static std::string error_code(const httplib::Result& r);

  // A pending email channel made through the service, and its link paths.
  std::int64_t signed_up_email(const std::string& address);
  std::string confirm_path(std::int64_t channel_id) const;
  std::string unsubscribe_path(std::int64_t channel_id) const;

  FakeClock clock_;
  FakeSigner signer_{"http-test-key"};
  RecordingComposer composer_;
  FakePhones phones_;
  CountingIds ids_;
  ConsentService service_;
  MemoryConsentStore store_;
  FakeUnitOfWork writes_{store_};
  FakeReadStore reads_{store_, writes_.mutex()};
  FakePages pages_;
  FakeVerifier verifier_;
  bool with_verifier_ = true;
  FakeAdminStore admin_store_;
  FakeAuditLog admin_audit_{admin_store_};
  bool with_admin_store_ = true;
  FakePayloadVerifier event_verifier_;
  bool with_event_verifier_ = true;
  bool with_phones_ = true;
  metrics::Registry metrics_;
  bool with_metrics_ = true;
  std::mutex providers_mu_;
  std::vector<ProviderHealth> providers_;  // what /healthz is told (under providers_mu_)
  DatabaseHealth database_health_;         // the same for the database's writes
  // The broadcast ports, set before start() (null: the broadcast routes answer 503).
  BroadcastTransactions* broadcast_tx_ = nullptr;
  BroadcastReads* broadcast_reads_ = nullptr;
  const BroadcastComposer* broadcast_composer_ = nullptr;
  BroadcastSettings broadcast_settings_{};

  std::unique_ptr<HttpServer> server_;
  std::thread serving_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> cli_;
};

}  // namespace sc::unit

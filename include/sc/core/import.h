// Imports: an operator brings a list from elsewhere as CSV (POST
// /api/v1/admin/imports, `stayconnected import FILE`).
//
// The upload is checked whole before anything changes (CsvSplitter: UTF-8,
// CSV framing, the header, line and row limits) and stored in parts that
// end on a record boundary; a refused upload leaves nothing behind. A
// runner then applies the parts in order, one transaction each, with the
// job's progress in the same transaction: a restart resumes at the first
// part not applied, and a part applied twice changes nothing (an import is
// idempotent: the same file twice adds nothing the second time).
//
// Each row is validated with the sign-up's rules; a bad row is refused with
// its line and reason and the rest go on (never the whole file for one bad
// row). mode=confirmed needs consent evidence per row; mode=pending adds the
// channels pending and queues the usual confirmation, paced. A channel that
// is unsubscribed, undeliverable or suppressed is never changed.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/core/model.h"
#include "sc/core/ports/stores.h"
#include "sc/core/quiet_hours.h"
#include "sc/core/result.h"

namespace sc {

enum class ImportMode { kConfirmed, kPending };
const char* to_string(ImportMode m);
std::optional<ImportMode> import_mode_from(std::string_view s);

// kReceiving: the upload is still arriving (never shown; a dead upload is
// dropped); kRunning: stored whole, being applied.
enum class ImportStatus { kReceiving, kRunning, kCompleted, kFailed };
const char* to_string(ImportStatus s);
std::optional<ImportStatus> import_status_from(std::string_view s);

struct ImportCounts {
  std::int64_t rows = 0;
  std::int64_t added = 0;      // a new subscriber or channel
  std::int64_t updated = 0;    // something of a known subscriber changed
  std::int64_t unchanged = 0;  // nothing to do (or only what an import never changes)
  std::int64_t refused = 0;
  ImportCounts& operator+=(const ImportCounts& o);
};

struct ImportJob {
  std::int64_t id = 0;
  ImportMode mode = ImportMode::kConfirmed;
  bool dry_run = false;
  ImportStatus status = ImportStatus::kReceiving;
  std::string key_name;  // who imported (the admin key's name)
  std::string header;    // the header record, as sent
  std::int64_t created_at = 0;
  std::int64_t finished_at = 0;
  std::int64_t parts = 0;      // stored parts
  std::int64_t next_part = 0;  // the first part not applied yet
  ImportCounts counts;
  // Confirmations queued so far per channel (their pacing goes on from here).
  std::int64_t confirms_email = 0;
  std::int64_t confirms_sms = 0;
  std::string error;  // why it failed
};

// A stored piece of the upload: whole records from line `first_line` on.
struct ImportPart {
  std::int64_t seq = 0;
  std::int64_t first_line = 0;
  std::string data;
};

// What one row did, or (for a dry run) would do: "added", "updated",
// "unchanged" or "refused", and why.
struct ImportRowVerdict {
  std::int64_t line = 0;
  std::string verdict;
  std::string reason;
};

// Imports as storage keeps them, inside a write transaction. Leases are
// held by this instance, in milliseconds on the database's clock.
class ImportStore {
 public:
  virtual ~ImportStore() = default;
  // A new upload (status receiving, its header known), held for `lease_ms`.
  virtual std::int64_t create(const ImportJob& job, std::int64_t lease_ms) = 0;
  virtual void add_part(std::int64_t id, const ImportPart& part) = 0;
  // Keeps holding it; false when this instance no longer does.
  virtual bool renew(std::int64_t id, std::int64_t lease_ms) = 0;
  // The upload is whole: it runs. False when it was not receiving.
  virtual bool start(std::int64_t id, std::int64_t parts) = 0;
  // Forgets an import with its parts and verdicts (a refused upload).
  virtual void drop(std::int64_t id) = 0;
  // Uploads nobody holds any more (their instance died mid-upload).
  virtual std::vector<std::int64_t> stale_uploads() = 0;
  // At start: lets go of what this instance's name held in earlier runs (a
  // killed run's leases); its uploads are then dropped as stale.
  // Registers this instance first (at `now`, unix seconds), as the
  // dispatcher's start does.
  virtual void release_own(std::int64_t now) = 0;
  // Takes the oldest running import that nobody holds.
  virtual std::optional<ImportJob> claim(std::int64_t lease_ms) = 0;
  virtual std::optional<ImportJob> job(std::int64_t id) = 0;
  // Records that part `seq` was applied, with its counts and confirmations,
  // and renews the lease; false (nothing recorded) unless this instance
  // holds the import and `seq` is its next part.
  virtual bool progress(std::int64_t id, std::int64_t seq, const ImportCounts& counts,
                        std::int64_t confirms_email, std::int64_t confirms_sms,
                        std::int64_t lease_ms) = 0;
  virtual void add_rows(std::int64_t id, const std::vector<ImportRowVerdict>& rows) = 0;
  // Ends it (completed or failed) and drops its parts; false unless this
  // instance holds it.
  virtual bool finish(std::int64_t id, ImportStatus status, std::int64_t at,
                      std::string_view error) = 0;
};

// What an import's transaction sees: the request path's stores and the imports.
struct ImportTransaction {
  const Transaction& tx;
  ImportStore& imports;
};

// Port: one transaction on the writer; run() for a request (the upload),
// run_background() for the runner's parts (requests go first).
class ImportTransactions {
 public:
  virtual ~ImportTransactions() = default;
  virtual void run(const std::function<void(const ImportTransaction&)>& fn) = 0;
  virtual void run_background(const std::function<void(const ImportTransaction&)>& fn) = 0;
};

// Read side (read connections).
class ImportReads {
 public:
  virtual ~ImportReads() = default;
  virtual std::optional<ImportJob> get(std::int64_t id) = 0;
  virtual std::optional<ImportPart> part(std::int64_t id, std::int64_t seq) = 0;
  // Verdicts after line `after`, in line order, at most `limit`.
  virtual std::vector<ImportRowVerdict> rows(std::int64_t id, std::int64_t after, int limit) = 0;
};

// One line of an import's refused rows as CSV ("line,verdict,reason" with the reason
// quoted; the reasons are the service's own words), CRLF ended.
std::string import_row_csv(const ImportRowVerdict& v);
inline constexpr const char* kImportRowsCsvHeader = "line,verdict,reason\r\n";

// Limits of one upload.
struct ImportLimits {
  std::size_t max_record_bytes = 64 * 1024;  // one row, its quoted newlines included
  std::int64_t max_rows = 5'000'000;         // SC_IMPORT_MAX_ROWS
  std::uint64_t max_bytes = 1ULL << 30;      // SC_IMPORT_MAX_BYTES
  std::size_t part_bytes = 32 * 1024;        // a part ends at the first record end past this
};

// Why an upload is refused whole. `status` is the HTTP status it maps to
// (413 for a size limit, 422 for the content).
struct ImportRefusal {
  int status = 422;
  std::string code;
  std::string message;
};

// Checks a CSV upload as it streams in (RFC 4180: fields in double quotes
// may hold commas, quotes doubled and line breaks; records end in LF or
// CRLF) and cuts it into parts on record boundaries. A UTF-8 byte order mark
// at the start is dropped; blank lines are skipped. Refuses: bytes that are
// not UTF-8, NUL, a quote inside an unquoted field or text after a closing
// quote, an unclosed quote, a record longer than the limit, more rows or
// bytes than the limits, and a header that is not a set of known columns
// naming email or phone.
class CsvSplitter {
 public:
  explicit CsvSplitter(ImportLimits limits) : limits_(limits) {}
  // Takes the next bytes; completed parts are appended to `out`.
  std::optional<ImportRefusal> feed(std::string_view bytes, std::vector<ImportPart>& out);
  // The end of the upload: the last part, or why the whole is refused.
  std::optional<ImportRefusal> finish(std::vector<ImportPart>& out);
  const std::string& header() const { return header_; }
  std::int64_t rows() const { return rows_; }

 private:
  std::optional<ImportRefusal> end_record(std::vector<ImportPart>& out);
  std::optional<ImportRefusal> refuse_at(std::string code, std::string message) const;

  ImportLimits limits_;
  std::uint64_t bytes_ = 0;
  std::int64_t line_ = 1;         // the physical line being read
  std::int64_t record_line_ = 1;  // where the current record started
  std::string record_;            // the current record, as sent
  std::string header_;
  ImportPart part_;
  std::int64_t rows_ = 0;
  std::int64_t next_seq_ = 0;
  enum class Field { kStart, kUnquoted, kQuoted, kQuoteInQuoted } field_ = Field::kStart;
  bool cr_ = false;  // a CR outside quotes: a LF must follow
  bool bom_checked_ = false;
  std::string bom_;  // the first bytes while a BOM may still be arriving
  int utf8_need_ = 0;
  unsigned utf8_min_ = 0, utf8_cp_ = 0;
};

// An upload on its way into storage: checked by a CsvSplitter as it
// streams, stored a megabyte at a time (the import is created once its
// header is known, held by this instance), and started at the end. One
// that is refused, or abandoned (destroyed before finish), is dropped with
// everything it stored; a stored part never outlives a refusal.
class ImportUpload {
 public:
  static constexpr std::int64_t kLeaseMs = 120'000;  // a store may stall this long
  static constexpr std::size_t kStoreBytes = 1 << 20;
  // A slow client's upload is stored (and its lease renewed) at least this often.
  static constexpr std::chrono::seconds kStoreEvery{20};

  ImportUpload(ImportTransactions& tx, ImportJob job, ImportLimits limits);
  ~ImportUpload();
  ImportUpload(const ImportUpload&) = delete;
  ImportUpload& operator=(const ImportUpload&) = delete;

  std::optional<ImportRefusal> feed(std::string_view bytes);
  // Stores the rest and starts the import; `also` runs in the same
  // transaction, with the import's id (the audit entry).
  std::optional<ImportRefusal> finish(
      const std::function<void(const ImportTransaction&, std::int64_t)>& also);
  std::int64_t id() const { return id_; }
  std::int64_t rows() const { return splitter_.rows(); }

 private:
  void store();

  ImportTransactions& tx_;
  ImportJob job_;
  CsvSplitter splitter_;
  std::vector<ImportPart> parts_;
  std::size_t pending_ = 0;
  std::int64_t id_ = 0, stored_ = 0;
  bool started_ = false;
  std::chrono::steady_clock::time_point last_store_ = std::chrono::steady_clock::now();
};

// The fields of one well-framed record (CsvSplitter checked it), quotes
// removed and doubled quotes undone; a trailing CR is not part of it.
std::vector<std::string> csv_fields(std::string_view record);

// The columns an import may have; the header names them in any order.
struct ImportColumns {
  static constexpr int kNone = -1;
  int email = kNone, phone = kNone, first_name = kNone, postal_code = kNone, topics = kNone,
      consented_at = kNone, consent_source = kNone, consent_text = kNone, consent_ip = kNone;
  std::size_t count = 0;
};
// Reads a header record; refuses unknown or repeated names and one with
// neither email nor phone.
Result<ImportColumns> import_columns(std::string_view header);

struct ImportSettings {
  // Confirmations an import queues per second on each channel (mode
  // pending): they are due one after another at this pace, so a sign-up's
  // own confirmation (due at once) is always claimed ahead of them.
  double confirms_per_second = 10;
  // Imported numbers are texted only inside this window at their place.
  QuietHours quiet_hours;
  // SHA-256 (hex) of a consent wording (core holds no hash).
  std::function<std::string(std::string_view)> sha256_hex;
};

// One row, validated (or refused, with why) before its transaction opens.
struct PreparedImportRow {
  std::int64_t line = 0;
  std::optional<Error> refused;
  ValidatedSignup contact;  // email, phone, first_name, postal_code, topics
  std::int64_t consented_at = 0;
  std::string consent_source, consent_ip;
  std::optional<ConsentText> consent_text;
};

// The runner's engine for one job: prepares each part's rows (parsing,
// validation, duplicates within the file) outside the transaction, then
// applies them within it.
class ImportEngine {
 public:
  // Throws std::invalid_argument when the stored header does not parse (it
  // was checked at upload).
  ImportEngine(ConsentService& service, const ImportJob& job, ImportSettings settings);

  // Parses and validates a part's rows, in order; a row repeating an email
  // or a number of an earlier row is refused as a duplicate of that line.
  std::vector<PreparedImportRow> prepare(const ImportPart& part);
  // After a restart: remembers a part applied before, for the duplicate check.
  void remember(const ImportPart& part);
  // Applies prepared rows in `tx` (for a dry run: decides and writes
  // nothing but the verdicts' counts). Returns the counts and the verdicts
  // to keep: every row's for a dry run, the refused ones otherwise.
  struct Applied {
    ImportCounts counts;
    std::vector<ImportRowVerdict> verdicts;
    std::int64_t confirms_email = 0, confirms_sms = 0;  // queued by this call
  };
  // The confirmations' pacing goes on from what has committed: a
  // transaction that is rolled back and run again starts from the same place.
  Applied apply(const Transaction& tx, const std::vector<PreparedImportRow>& rows,
                std::int64_t now);
  // After apply's transaction has committed.
  void committed(const Applied& a) {
    committed_email_ += a.confirms_email;
    committed_sms_ += a.confirms_sms;
  }

 private:
  PreparedImportRow prepare_row(std::int64_t line, std::string_view record);
  ImportRowVerdict apply_row(const Transaction& tx, const PreparedImportRow& row, std::int64_t now);
  void log(const Transaction& tx, const Channel& ch, ConsentAction action,
           const PreparedImportRow& row, std::int64_t at);
  std::int64_t confirmation_due(ChannelKind kind, const std::string& address, std::int64_t now);

  ConsentService& service_;
  ImportJob job_;
  ImportSettings settings_;
  ImportColumns columns_;
  std::int64_t committed_email_ = 0, committed_sms_ = 0;
  // Addresses seen so far, by a 64-bit hash of kind and address, with their
  // line (about 40 bytes a row; a collision would refuse a row as a
  // duplicate, with odds below one in a million for 5,000,000 rows).
  std::unordered_map<std::uint64_t, std::int64_t> seen_;
  std::unordered_map<std::string, ConsentText> texts_;  // wording → its hash and version
};

}  // namespace sc

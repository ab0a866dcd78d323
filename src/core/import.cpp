#include "sc/core/import.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "sc/core/broadcast.h"
#include "sc/core/text.h"

namespace sc {

const char* to_string(ImportMode m) { return m == ImportMode::kPending ? "pending" : "confirmed"; }

std::optional<ImportMode> import_mode_from(std::string_view s) {
  if (s == "confirmed") return ImportMode::kConfirmed;
  if (s == "pending") return ImportMode::kPending;
  return std::nullopt;
}

const char* to_string(ImportStatus s) {
  switch (s) {
    case ImportStatus::kReceiving:
      return "receiving";
    case ImportStatus::kRunning:
      return "running";
    case ImportStatus::kCompleted:
      return "completed";
    case ImportStatus::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<ImportStatus> import_status_from(std::string_view s) {
  for (auto st : {ImportStatus::kReceiving, ImportStatus::kRunning, ImportStatus::kCompleted,
                  ImportStatus::kFailed}) {
    if (s == to_string(st)) return st;
  }
  return std::nullopt;
}

ImportCounts& ImportCounts::operator+=(const ImportCounts& o) {
  rows += o.rows;
  added += o.added;
  updated += o.updated;
  unchanged += o.unchanged;
  refused += o.refused;
  return *this;
}

std::string import_row_csv(const ImportRowVerdict& v) {
  std::string out = std::to_string(v.line) + "," + v.verdict + ",\"";
  for (char c : v.reason) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"\r\n";
}

// ---- The upload: framing, encoding, limits -------------------------------

std::optional<ImportRefusal> CsvSplitter::refuse_at(std::string code, std::string message) const {
  return ImportRefusal{422, std::move(code), "line " + std::to_string(line_) + ": " + message};
}

std::optional<ImportRefusal> CsvSplitter::feed(std::string_view bytes,
                                               std::vector<ImportPart>& out) {
  if (!bom_checked_) {
    // A byte order mark may arrive split over calls: hold the first three bytes.
    const auto take = std::min(bytes.size(), 3 - bom_.size());
    bom_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (bom_.size() < 3) return std::nullopt;
    bom_checked_ = true;
    std::string held;
    held.swap(bom_);
    if (held != "\xEF\xBB\xBF") {
      if (auto r = feed(held, out)) return r;
    }
  }
  for (char c : bytes) {
    if (++bytes_ > limits_.max_bytes) {
      return ImportRefusal{413, "import_too_large",
                           "the file is larger than " + std::to_string(limits_.max_bytes) +
                               " bytes (SC_IMPORT_MAX_BYTES); split it"};
    }
    const auto u = static_cast<unsigned char>(c);
    // UTF-8, checked as it streams (no overlong forms, no surrogates).
    if (utf8_need_ > 0) {
      if ((u & 0xC0) != 0x80) return refuse_at("invalid_encoding", "the file is not UTF-8");
      utf8_cp_ = (utf8_cp_ << 6) | (u & 0x3F);
      if (--utf8_need_ == 0 && (utf8_cp_ < utf8_min_ || utf8_cp_ > 0x10FFFF ||
                                (utf8_cp_ >= 0xD800 && utf8_cp_ <= 0xDFFF)))
        return refuse_at("invalid_encoding", "the file is not UTF-8");
    } else if (u >= 0x80) {
      if (u >= 0xC2 && u <= 0xDF) {
        utf8_need_ = 1, utf8_cp_ = u & 0x1F, utf8_min_ = 0x80;
      } else if (u >= 0xE0 && u <= 0xEF) {
        utf8_need_ = 2, utf8_cp_ = u & 0x0F, utf8_min_ = 0x800;
      } else if (u >= 0xF0 && u <= 0xF4) {
        utf8_need_ = 3, utf8_cp_ = u & 0x07, utf8_min_ = 0x10000;
      } else {
        return refuse_at("invalid_encoding", "the file is not UTF-8");
      }
    } else if (u == 0) {
      return refuse_at("invalid_encoding", "the file holds a NUL byte");
    }
    if (cr_) {
      if (c != '\n')
        return refuse_at("invalid_csv",
                         "a carriage return without a line feed (lines must end in LF or CRLF)");
      cr_ = false;
    }
    switch (field_) {
      case Field::kStart:
      case Field::kUnquoted:
        if (c == '"') {
          if (field_ == Field::kUnquoted)
            return refuse_at("invalid_csv",
                             "a quote inside a field that does not start with one (quote the "
                             "whole field and double the quote)");
          field_ = Field::kQuoted;
        } else if (c == ',') {
          field_ = Field::kStart;
        } else if (c == '\r') {
          cr_ = true;
          continue;
        } else if (c == '\n') {
          if (auto r = end_record(out)) return r;
          continue;
        } else {
          field_ = Field::kUnquoted;
        }
        break;
      case Field::kQuoted:
        if (c == '"') field_ = Field::kQuoteInQuoted;
        if (c == '\n') ++line_;
        break;
      case Field::kQuoteInQuoted:
        if (c == '"') {
          field_ = Field::kQuoted;
        } else if (c == ',') {
          field_ = Field::kStart;
        } else if (c == '\r') {
          cr_ = true;
          continue;
        } else if (c == '\n') {
          if (auto r = end_record(out)) return r;
          continue;
        } else {
          return refuse_at("invalid_csv", "text after a closing quote");
        }
        break;
    }
    record_.push_back(c);
    if (record_.size() > limits_.max_record_bytes) {
      return ImportRefusal{422, "line_too_long",
                           "line " + std::to_string(record_line_) + ": a row is longer than " +
                               std::to_string(limits_.max_record_bytes) + " bytes"};
    }
  }
  return std::nullopt;
}

std::optional<ImportRefusal> CsvSplitter::end_record(std::vector<ImportPart>& out) {
  const auto this_line = record_line_;
  field_ = Field::kStart;
  ++line_;
  record_line_ = line_;
  if (header_.empty()) {
    if (record_.empty()) return std::nullopt;  // blank lines before the header
    auto cols = import_columns(record_);
    if (!cols) {
      return ImportRefusal{422, cols.error().code,
                           "line " + std::to_string(this_line) + ": " + cols.error().message};
    }
    header_.swap(record_);
    part_.first_line = line_;
    return std::nullopt;
  }
  if (!record_.empty() && ++rows_ > limits_.max_rows) {
    return ImportRefusal{413, "too_many_rows",
                         "the file has more than " + std::to_string(limits_.max_rows) +
                             " rows (SC_IMPORT_MAX_ROWS); split it"};
  }
  // Blank lines are kept (empty) so that a part's line numbers stay true.
  part_.data.append(record_).push_back('\n');
  record_.clear();
  if (part_.data.size() >= limits_.part_bytes) {
    part_.seq = next_seq_++;
    out.push_back(std::move(part_));
    part_ = ImportPart{};
    part_.first_line = line_;
  }
  return std::nullopt;
}

std::optional<ImportRefusal> CsvSplitter::finish(std::vector<ImportPart>& out) {
  if (!bom_checked_) {
    bom_checked_ = true;
    std::string held;
    held.swap(bom_);
    if (held != "\xEF\xBB\xBF") {
      if (auto r = feed(held, out)) return r;
    }
  }
  if (utf8_need_ > 0) return refuse_at("invalid_encoding", "the file is not UTF-8");
  if (field_ == Field::kQuoted) {
    return ImportRefusal{422, "invalid_csv",
                         "line " + std::to_string(record_line_) + ": a quoted field is not closed"};
  }
  if (cr_) cr_ = false;  // a last line ending in CR alone is still a line
  if (!record_.empty() || field_ != Field::kStart) {
    if (auto r = end_record(out)) return r;
  }
  if (header_.empty()) return ImportRefusal{422, "empty_import", "the file has no header row"};
  if (rows_ == 0) return ImportRefusal{422, "empty_import", "the file has a header but no rows"};
  if (!part_.data.empty()) {
    part_.seq = next_seq_++;
    out.push_back(std::move(part_));
    part_ = ImportPart{};
  }
  return std::nullopt;
}

ImportUpload::ImportUpload(ImportTransactions& tx, ImportJob job, ImportLimits limits)
    : tx_(tx), job_(std::move(job)), splitter_(limits) {}

ImportUpload::~ImportUpload() {
  if (id_ == 0 || started_) return;
  try {
    tx_.run([&](const ImportTransaction& t) { t.imports.drop(id_); });
  } catch (...) {
    // Left receiving: a runner drops it once its lease has run out.
  }
}

void ImportUpload::store() {
  if (parts_.empty() && id_ != 0) return;
  job_.header = splitter_.header();
  tx_.run([&](const ImportTransaction& t) {
    if (id_ == 0) {
      id_ = t.imports.create(job_, kLeaseMs);
    } else if (!t.imports.renew(id_, kLeaseMs)) {
      throw std::runtime_error("import upload: the stored upload was dropped");
    }
    for (const auto& p : parts_) t.imports.add_part(id_, p);
  });
  stored_ += static_cast<std::int64_t>(parts_.size());
  parts_.clear();
  pending_ = 0;
  last_store_ = std::chrono::steady_clock::now();
}

std::optional<ImportRefusal> ImportUpload::feed(std::string_view bytes) {
  const auto before = parts_.size();
  if (auto r = splitter_.feed(bytes, parts_)) return r;
  for (auto i = before; i < parts_.size(); ++i) pending_ += parts_[i].data.size();
  if (pending_ >= kStoreBytes || (!splitter_.header().empty() &&
                                  std::chrono::steady_clock::now() - last_store_ >= kStoreEvery))
    store();
  return std::nullopt;
}

std::optional<ImportRefusal> ImportUpload::finish(
    const std::function<void(const ImportTransaction&, std::int64_t)>& also) {
  if (auto r = splitter_.finish(parts_)) return r;
  store();
  tx_.run([&](const ImportTransaction& t) {
    if (!t.imports.start(id_, stored_))
      throw std::runtime_error("import upload: the stored upload was dropped");
    if (also) also(t, id_);
  });
  started_ = true;
  return std::nullopt;
}

std::vector<std::string> csv_fields(std::string_view record) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < record.size() && record[i + 1] == '"') {
          out.back().push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back().push_back(c);
    }
  }
  return out;
}

Result<ImportColumns> import_columns(std::string_view header) {
  ImportColumns cols;
  const auto names = csv_fields(header);
  cols.count = names.size();
  const std::array<std::pair<const char*, int ImportColumns::*>, 9> known = {{
      {"email", &ImportColumns::email},
      {"phone", &ImportColumns::phone},
      {"first_name", &ImportColumns::first_name},
      {"postal_code", &ImportColumns::postal_code},
      {"topics", &ImportColumns::topics},
      {"consented_at", &ImportColumns::consented_at},
      {"consent_source", &ImportColumns::consent_source},
      {"consent_text", &ImportColumns::consent_text},
      {"consent_ip", &ImportColumns::consent_ip},
  }};
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto name = text::to_lower_ascii(text::trim(names[i]));
    auto it =
        std::find_if(known.begin(), known.end(), [&](const auto& k) { return name == k.first; });
    if (it == known.end()) {
      std::string shown = name.size() > 40 ? name.substr(0, 40) + "…" : name;
      if (!text::is_valid_utf8(shown)) shown = "?";
      return invalid("invalid_header",
                     "unknown column '" + shown +
                         "' (columns: email, phone, first_name, postal_code, topics, "
                         "consented_at, consent_source, consent_text, consent_ip)");
    }
    int& slot = cols.*(it->second);
    if (slot != ImportColumns::kNone)
      return invalid("invalid_header", "the column '" + name + "' is named twice");
    slot = static_cast<int>(i);
  }
  if (cols.email == ImportColumns::kNone && cols.phone == ImportColumns::kNone)
    return invalid("invalid_header", "the header names neither an email nor a phone column");
  return cols;
}

// ---- The engine ------------------------------------------------------------

namespace {

constexpr std::size_t kMaxConsentSource = 200;
constexpr std::size_t kMaxConsentText = 4096;
constexpr std::int64_t kClockSkew = 300;  // a consent "in the future" by less is the clock's

std::optional<std::string> field_of(const std::vector<std::string>& f, int col) {
  if (col == ImportColumns::kNone) return std::nullopt;
  auto t = text::trim(f[static_cast<std::size_t>(col)]);
  if (t.empty()) return std::nullopt;
  return std::string(t);
}

std::vector<std::string> split_topics(const std::optional<std::string>& s) {
  std::vector<std::string> out;
  if (!s) return out;
  std::size_t at = 0;
  while (at <= s->size()) {
    auto end = s->find(';', at);
    if (end == std::string::npos) end = s->size();
    out.emplace_back(s->substr(at, end - at));
    at = end + 1;
  }
  return out;
}

bool valid_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::uint64_t seen_key(ChannelKind kind, std::string_view address) {
  std::string k = kind == ChannelKind::kEmail ? "e:" + text::to_lower_ascii(address)
                                              : "s:" + std::string(address);
  return std::hash<std::string>{}(k);
}

Error refusal(std::string code, std::string message, std::string field = {}) {
  return invalid(std::move(code), std::move(message), std::move(field));
}

}  // namespace

ImportEngine::ImportEngine(ConsentService& service, const ImportJob& job, ImportSettings settings)
    : service_(service),
      job_(job),
      settings_(std::move(settings)),
      committed_email_(job.confirms_email),
      committed_sms_(job.confirms_sms) {
  auto cols = import_columns(job.header);
  if (!cols) throw std::invalid_argument("import header: " + cols.error().message);
  columns_ = cols.value();
}

namespace {

// Walks a part's records: fn(line, record) for each that is not blank.
template <class F>
void for_each_record(const ImportPart& part, F&& fn) {
  std::int64_t line = part.first_line;
  std::size_t start = 0;
  std::int64_t start_line = line;
  bool quoted = false;
  const std::string& d = part.data;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const char c = d[i];
    if (c == '"') quoted = !quoted;
    if (c != '\n') continue;
    ++line;
    if (quoted) continue;
    if (i > start) fn(start_line, std::string_view(d).substr(start, i - start));
    start = i + 1;
    start_line = line;
  }
}

}  // namespace

void ImportEngine::remember(const ImportPart& part) {
  // Only rows that were accepted count (prepare registers exactly those).
  (void)prepare(part);
}

std::vector<PreparedImportRow> ImportEngine::prepare(const ImportPart& part) {
  std::vector<PreparedImportRow> rows;
  for_each_record(part, [&](std::int64_t line, std::string_view record) {
    rows.push_back(prepare_row(line, record));
  });
  return rows;
}

PreparedImportRow ImportEngine::prepare_row(std::int64_t line, std::string_view record) {
  PreparedImportRow row;
  row.line = line;
  const auto f = csv_fields(record);
  if (f.size() != columns_.count) {
    row.refused =
        refusal("field_count", "the row has " + std::to_string(f.size()) + " fields, the header " +
                                   std::to_string(columns_.count));
    return row;
  }
  SignupRequest req;
  req.email = field_of(f, columns_.email);
  req.phone = field_of(f, columns_.phone);
  req.sms_consent = true;
  req.first_name = field_of(f, columns_.first_name);
  req.postal_code = field_of(f, columns_.postal_code);
  req.topics = split_topics(field_of(f, columns_.topics));
  auto v = service_.validate(req);
  if (!v) {
    row.refused = v.error();
    return row;
  }
  row.contact = std::move(v).value();

  if (auto at = field_of(f, columns_.consented_at)) {
    auto t = parse_rfc3339(*at);
    if (!t) {
      row.refused =
          refusal("invalid_consented_at",
                  "consented_at is not an RFC 3339 time (2024-05-01T12:00:00Z)", "consented_at");
      return row;
    }
    row.consented_at = *t;
  }
  if (auto s = field_of(f, columns_.consent_source)) {
    if (s->size() > kMaxConsentSource || text::has_control(*s)) {
      row.refused = refusal("invalid_consent_source",
                            "consent_source is longer than 200 bytes or holds control characters",
                            "consent_source");
      return row;
    }
    row.consent_source = *s;
  }
  if (auto t = field_of(f, columns_.consent_text)) {
    if (t->size() > kMaxConsentText) {
      row.refused =
          refusal("invalid_consent_text", "consent_text is longer than 4096 bytes", "consent_text");
      return row;
    }
    auto it = texts_.find(*t);
    if (it == texts_.end()) {
      ConsentText ct;
      ct.text = *t;
      ct.sha256_hex = settings_.sha256_hex ? settings_.sha256_hex(*t) : std::string();
      ct.version = "import-" + ct.sha256_hex.substr(0, 12);
      it = texts_.emplace(*t, std::move(ct)).first;
    }
    row.consent_text = it->second;
  }
  if (auto ip = field_of(f, columns_.consent_ip)) {
    if (!valid_ip(*ip)) {
      row.refused = refusal("invalid_consent_ip", "consent_ip is not an IP address", "consent_ip");
      return row;
    }
    row.consent_ip = *ip;
  }
  if (job_.mode == ImportMode::kConfirmed) {
    if (row.consented_at == 0 || row.consent_source.empty()) {
      row.refused = refusal("missing_evidence",
                            "mode=confirmed needs consented_at and consent_source on every row "
                            "(when and where the person consented)",
                            row.consented_at == 0 ? "consented_at" : "consent_source");
      return row;
    }
    if (row.contact.phone && !row.consent_text) {
      row.refused = refusal("missing_evidence",
                            "mode=confirmed needs the consent wording (consent_text) the person "
                            "agreed to for a phone: prior express written consent",
                            "consent_text");
      return row;
    }
  }
  // An address twice in one file: the first row counts, the next is refused.
  std::uint64_t keys[2] = {0, 0};
  if (row.contact.email) keys[0] = seen_key(ChannelKind::kEmail, row.contact.email->str());
  if (row.contact.phone) keys[1] = seen_key(ChannelKind::kSms, *row.contact.phone);
  for (int k = 0; k < 2; ++k) {
    if (keys[k] == 0) continue;
    if (auto it = seen_.find(keys[k]); it != seen_.end()) {
      row.refused = refusal("duplicate", std::string("the same ") + (k == 0 ? "email" : "phone") +
                                             " as line " + std::to_string(it->second));
      return row;
    }
  }
  for (auto key : keys) {
    if (key != 0) seen_.emplace(key, line);
  }
  return row;
}

std::int64_t ImportEngine::confirmation_due(ChannelKind kind, const std::string& address,
                                            std::int64_t now) {
  // The n-th confirmation of this import on this channel is due n/rate
  // seconds after the import was created (never before now).
  const std::int64_t n = kind == ChannelKind::kEmail ? job_.confirms_email++ : job_.confirms_sms++;
  const double rate = settings_.confirms_per_second > 0 ? settings_.confirms_per_second : 1;
  std::int64_t due = std::max(
      now, job_.created_at + static_cast<std::int64_t>(std::floor(static_cast<double>(n) / rate)));
  if (kind == ChannelKind::kSms) {
    if (auto until = quiet_hours_wait_until(address, due, settings_.quiet_hours); until > 0)
      due = until;
  }
  return due;
}

namespace {

const char* kind_word(ChannelKind k) { return k == ChannelKind::kEmail ? "email" : "phone"; }

}  // namespace

// One consent-log row of an import: source import, detail naming the import,
// the key and (for a grant) where the person consented.
void ImportEngine::log(const Transaction& tx, const Channel& ch, ConsentAction action,
                       const PreparedImportRow& row, std::int64_t at) {
  ConsentEvent e;
  e.subscriber_id = ch.subscriber_id;
  e.channel_id = ch.id;
  e.channel = ch.kind;
  e.address = ch.address;
  e.action = action;
  e.source = ConsentSource::kImport;
  e.detail = "import " + std::to_string(job_.id) + " by " + job_.key_name;
  if (action == ConsentAction::kGrant && !row.consent_source.empty())
    e.detail += ": " + row.consent_source;
  e.at = at;
  const ConsentText* text = nullptr;
  if (action == ConsentAction::kGrant) {
    e.context.ip = row.consent_ip;
    if (row.consent_text) {
      text = &*row.consent_text;
      e.consent_text_version = text->version;
      e.consent_text_sha256 = text->sha256_hex;
    }
  }
  tx.consent_log.append_consent(e, text);
}

ImportRowVerdict ImportEngine::apply_row(const Transaction& tx, const PreparedImportRow& row,
                                         std::int64_t now) {
  ImportRowVerdict out{row.line, "refused", {}};
  if (row.refused) {
    out.reason = row.refused->message;
    return out;
  }
  const auto& v = row.contact;
  const bool write = !job_.dry_run;
  struct Want {
    ChannelKind kind;
    std::string address;
    std::optional<Channel> ch;
  };
  std::vector<Want> wants;
  if (v.email) wants.push_back({ChannelKind::kEmail, v.email->str(), std::nullopt});
  if (v.phone) wants.push_back({ChannelKind::kSms, *v.phone, std::nullopt});
  std::optional<std::int64_t> owner;
  for (auto& w : wants) {
    if (service_.is_suppressed(tx, w.kind, w.address)) {
      out.reason = std::string("the ") + kind_word(w.kind) +
                   " is on the suppression list (its owner's data was erased); an import never "
                   "adds it again";
      return out;
    }
    w.ch = tx.subscribers.find_channel(w.kind, w.address);
    if (!w.ch) continue;
    if (owner && *owner != w.ch->subscriber_id) {
      out.reason = "the email and the phone belong to two different subscribers (" +
                   std::to_string(*owner) + " and " + std::to_string(w.ch->subscriber_id) + ")";
      return out;
    }
    owner = w.ch->subscriber_id;
  }

  std::vector<std::string> notes;
  bool created = false, changed = false;
  Subscriber sub;
  if (owner) {
    auto found = tx.subscribers.subscriber_by_id(*owner);
    if (!found) {
      out.reason = "the subscriber is being erased";
      return out;
    }
    sub = *found;
    // What the file says of a known person: a name or postal code given
    // replaces the one stored; topics are added, never taken away.
    const bool name = !v.first_name.empty() && v.first_name != sub.first_name;
    const bool postal = !v.postal_code.empty() && v.postal_code != sub.postal_code;
    if (name || postal) {
      if (name) sub.first_name = v.first_name;
      if (postal) sub.postal_code = v.postal_code;
      if (write) tx.subscribers.update_profile(sub.id, sub.first_name, sub.postal_code);
      changed = true;
    }
    if (!v.topics.empty()) {
      const auto held = tx.topics.topics_of(sub.id);
      std::vector<std::string> add;
      for (const auto& t : v.topics) {
        if (held.size() + add.size() >= ConsentService::kMaxSubscriberTopics) break;
        if (std::find(held.begin(), held.end(), t) == held.end()) add.push_back(t);
      }
      if (!add.empty()) {
        if (write) tx.topics.add_topics(sub.id, add);
        changed = true;
      }
    }
  } else {
    sub.first_name = v.first_name;
    sub.postal_code = v.postal_code;
    sub.created_at = now;
    if (write) {
      sub.id = tx.subscribers.insert_subscriber(sub);
      if (!v.topics.empty()) tx.topics.add_topics(sub.id, v.topics);
    }
    created = true;
  }

  const bool confirmed = job_.mode == ImportMode::kConfirmed;
  const std::int64_t granted_at = row.consented_at != 0 ? row.consented_at : now;
  for (auto& w : wants) {
    if (!w.ch) {
      Channel c;
      c.subscriber_id = sub.id;
      c.kind = w.kind;
      c.address = w.address;
      c.state = confirmed ? ConsentState::kConfirmed : ConsentState::kPending;
      c.created_at = now;
      c.updated_at = now;
      c.confirm_sent_at = confirmed ? 0 : now;
      changed = true;
      if (!write) {
        if (!confirmed) confirmation_due(w.kind, w.address, now);
        continue;
      }
      c.id = tx.subscribers.insert_channel(c);
      log(tx, c, ConsentAction::kGrant, row, granted_at);
      if (confirmed) {
        log(tx, c, ConsentAction::kConfirm, row, now);
      } else {
        service_.queue_confirmation(tx, c, sub, now, confirmation_due(w.kind, w.address, now));
      }
      continue;
    }
    Channel& c = *w.ch;
    const auto word = kind_word(w.kind);
    if (c.state == ConsentState::kUnsubscribed || c.state == ConsentState::kUndeliverable) {
      notes.push_back(std::string(word) + " is " + to_string(c.state) +
                      ": an import never changes it");
    } else if (c.state == ConsentState::kPending && confirmed) {
      changed = true;
      if (write) {
        tx.subscribers.update_channel_state(c.id, ConsentState::kConfirmed, now);
        log(tx, c, ConsentAction::kGrant, row, granted_at);
        log(tx, c, ConsentAction::kConfirm, row, now);
      }
    } else if (c.state == ConsentState::kPending) {
      notes.push_back(std::string(word) + " is already waiting for its owner's confirmation");
    }
  }
  out.verdict = created ? "added" : changed ? "updated" : "unchanged";
  for (const auto& n : notes) out.reason += (out.reason.empty() ? "" : "; ") + n;
  return out;
}

ImportEngine::Applied ImportEngine::apply(const Transaction& tx,
                                          const std::vector<PreparedImportRow>& rows,
                                          std::int64_t now) {
  Applied applied;
  // The wordings these rows cite, stored before the rows that cite them.
  std::vector<const ConsentText*> texts;
  for (const auto& row : rows) {
    if (job_.dry_run || row.refused || !row.consent_text) continue;
    const auto* t = &*row.consent_text;
    if (std::none_of(texts.begin(), texts.end(),
                     [&](const ConsentText* x) { return x->sha256_hex == t->sha256_hex; })) {
      texts.push_back(t);
      tx.consent_log.store_consent_text(row.contact.phone ? ChannelKind::kSms : ChannelKind::kEmail,
                                        *t, now);
    }
  }
  job_.confirms_email = committed_email_;
  job_.confirms_sms = committed_sms_;
  for (const auto& row : rows) {
    auto v = apply_row(tx, row, now);
    ++applied.counts.rows;
    if (v.verdict == "added") ++applied.counts.added;
    if (v.verdict == "updated") ++applied.counts.updated;
    if (v.verdict == "unchanged") ++applied.counts.unchanged;
    if (v.verdict == "refused") ++applied.counts.refused;
    if (job_.dry_run || v.verdict == "refused") applied.verdicts.push_back(std::move(v));
  }
  applied.confirms_email = job_.confirms_email - committed_email_;
  applied.confirms_sms = job_.confirms_sms - committed_sms_;
  return applied;
}

}  // namespace sc

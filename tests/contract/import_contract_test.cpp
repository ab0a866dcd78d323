// Imports as every backend keeps them (sc/core/import.h): an upload is
// stored in parts while its instance holds it, runs once started, and is
// applied by whichever instance claims it; progress and the end are fenced
// on the holder and the next part; leases are in milliseconds on the
// database's clock (the memory backend's: its FakeClock).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "contract/backends.h"
#include "sc/core/import.h"
#include "support/db_inspect.h"
#include "support/wait_for.h"

namespace sc::contract {
namespace {

template <class B>
class ImportContract : public Contract<B> {};
TYPED_TEST_SUITE(ImportContract, Backends, BackendNames);

constexpr std::int64_t kHeld = 600'000;  // ms: runs out long after the case
constexpr std::int64_t kBrief = 1;       // ms: runs out at once

// One instance's import transactions, each call one transaction.
struct Imports {
  ImportTransactions& t;

  template <class F>
  auto run(F&& f) -> std::invoke_result_t<F&, ImportStore&> {
    using R = std::invoke_result_t<F&, ImportStore&>;
    if constexpr (std::is_void_v<R>) {
      t.run([&](const ImportTransaction& x) { f(x.imports); });
    } else {
      std::optional<R> out;
      t.run([&](const ImportTransaction& x) { out.emplace(f(x.imports)); });
      return std::move(*out);
    }
  }
  std::int64_t create(const ImportJob& job, std::int64_t lease_ms = kHeld) {
    return run([&](ImportStore& s) { return s.create(job, lease_ms); });
  }
  void add_part(std::int64_t id, const ImportPart& p) {
    run([&](ImportStore& s) { s.add_part(id, p); });
  }
  bool renew(std::int64_t id, std::int64_t lease_ms) {
    return run([&](ImportStore& s) { return s.renew(id, lease_ms); });
  }
  bool start(std::int64_t id, std::int64_t parts) {
    return run([&](ImportStore& s) { return s.start(id, parts); });
  }
  void drop(std::int64_t id) {
    run([&](ImportStore& s) { s.drop(id); });
  }
  std::vector<std::int64_t> stale() {
    return run([&](ImportStore& s) { return s.stale_uploads(); });
  }
  std::optional<ImportJob> claim(std::int64_t lease_ms = kHeld) {
    return run([&](ImportStore& s) { return s.claim(lease_ms); });
  }
  bool progress(std::int64_t id, std::int64_t seq, const ImportCounts& c = {},
                std::int64_t confirms_email = 0, std::int64_t confirms_sms = 0) {
    return run([&](ImportStore& s) {
      return s.progress(id, seq, c, confirms_email, confirms_sms, kHeld);
    });
  }
  void add_rows(std::int64_t id, const std::vector<ImportRowVerdict>& rows) {
    run([&](ImportStore& s) { s.add_rows(id, rows); });
  }
  bool finish(std::int64_t id, ImportStatus status = ImportStatus::kCompleted,
              std::int64_t at = 5000, std::string_view error = "") {
    return run([&](ImportStore& s) { return s.finish(id, status, at, error); });
  }
};

ImportJob sample_job(ImportMode mode = ImportMode::kConfirmed, bool dry_run = false) {
  ImportJob j;
  j.mode = mode;
  j.dry_run = dry_run;
  j.key_name = "ops";
  j.header = "email,first_name,consented_at";
  j.created_at = 1234;
  // What create must not take from the caller.
  j.status = ImportStatus::kCompleted;
  j.parts = 9;
  j.next_part = 4;
  j.counts.rows = 7;
  j.error = "not yet";
  return j;
}

// `n` plain parts of one row each, from line 2 on.
std::vector<ImportPart> plain_parts(int n) {
  std::vector<ImportPart> out;
  for (int i = 0; i < n; ++i)
    out.push_back({i, 2 + i, "p" + std::to_string(i) + "@example.org,P,1700000000\n"});
  return out;
}

// An upload created, its parts added and started (running, held by nobody).
std::int64_t upload(Imports& a, const std::vector<ImportPart>& parts,
                    const ImportJob& job = sample_job()) {
  const auto id = a.create(job);
  for (const auto& p : parts) a.add_part(id, p);
  EXPECT_TRUE(a.start(id, static_cast<std::int64_t>(parts.size())));
  return id;
}

// Polls `cond` while time passes: the memory backend's clock moves a few
// ms a poll; the SQL backends' leases are on the database's own clock.
bool as_time_passes(Backend& b, const std::function<bool()>& cond) {
  return testing::wait_for([&] {
    b.clock().advance_ms(5);
    return cond();
  });
}

void expect_counts(const ImportCounts& c, const ImportCounts& want) {
  EXPECT_EQ(c.rows, want.rows);
  EXPECT_EQ(c.added, want.added);
  EXPECT_EQ(c.updated, want.updated);
  EXPECT_EQ(c.unchanged, want.unchanged);
  EXPECT_EQ(c.refused, want.refused);
}

std::vector<std::int64_t> lines_of(const std::vector<ImportRowVerdict>& rows) {
  std::vector<std::int64_t> out;
  for (const auto& r : rows) out.push_back(r.line);
  return out;
}

TYPED_TEST(ImportContract, AnUploadIsStoredWholeAndReadBackByteForByte) {
  auto& b = this->backend();
  Imports a{b.import_transactions()};
  const std::vector<ImportPart> parts = {
      {0, 2, "ann@example.org,\"Lee, Ann\",1700000000\r\n"},
      {1, 3,
       "bob@example.org,\"Bob \"\"the builder\"\"\",1700000001\n"
       "cy@example.org,\"two\nlines\r\nhere\",1700000002\n"},
      {2, 7, "z\xc3\xa9@example.org,Jos\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80,\n"}};
  const auto id = a.create(sample_job(ImportMode::kPending, true));
  for (const auto& p : parts) a.add_part(id, p);

  auto seen = b.import_reads().get(id).value();
  EXPECT_EQ(seen.status, ImportStatus::kReceiving);
  EXPECT_EQ(seen.parts, 0);
  EXPECT_TRUE(a.start(id, 3));

  seen = b.import_reads().get(id).value();
  EXPECT_EQ(seen.id, id);
  EXPECT_EQ(seen.status, ImportStatus::kRunning);
  EXPECT_EQ(seen.mode, ImportMode::kPending);
  EXPECT_TRUE(seen.dry_run);
  EXPECT_EQ(seen.key_name, "ops");
  EXPECT_EQ(seen.header, "email,first_name,consented_at");
  EXPECT_EQ(seen.created_at, 1234);
  EXPECT_EQ(seen.finished_at, 0);
  EXPECT_EQ(seen.parts, 3);
  EXPECT_EQ(seen.next_part, 0);
  expect_counts(seen.counts, {});
  EXPECT_EQ(seen.confirms_email + seen.confirms_sms, 0);
  EXPECT_EQ(seen.error, "");
  for (const auto& p : parts) {
    const auto got = b.import_reads().part(id, p.seq);
    ASSERT_TRUE(got) << p.seq;
    EXPECT_EQ(got->seq, p.seq);
    EXPECT_EQ(got->first_line, p.first_line);
    EXPECT_EQ(got->data, p.data);
  }
  EXPECT_FALSE(b.import_reads().part(id, 3));
  EXPECT_FALSE(b.import_reads().get(id + 1));

  // The other mode and a real run read back as such.
  const auto other = upload(a, plain_parts(1), sample_job(ImportMode::kConfirmed, false));
  EXPECT_NE(other, id);
  seen = b.import_reads().get(other).value();
  EXPECT_EQ(seen.mode, ImportMode::kConfirmed);
  EXPECT_FALSE(seen.dry_run);
  EXPECT_FALSE(b.import_reads().part(other, 1));
  EXPECT_EQ(b.import_reads().part(other, 0).value().data, plain_parts(1)[0].data);
}

TYPED_TEST(ImportContract, AReceivingUploadIsNotClaimedAndStartsOnce) {
  auto& b = this->backend();
  auto other = b.instance("b");
  Imports a{b.import_transactions()}, x{other->import_transactions()};
  const auto id = a.create(sample_job());
  a.add_part(id, plain_parts(1)[0]);
  EXPECT_FALSE(x.claim());
  EXPECT_FALSE(a.claim());
  // Its uploader holds it; nobody else can.
  EXPECT_FALSE(x.renew(id, kHeld));
  EXPECT_TRUE(a.renew(id, kHeld));
  // Not running yet: no progress, no end, even from its holder.
  EXPECT_FALSE(a.progress(id, 0));
  EXPECT_FALSE(a.finish(id));
  EXPECT_EQ(b.import_reads().get(id).value().status, ImportStatus::kReceiving);

  EXPECT_TRUE(a.start(id, 1));
  EXPECT_FALSE(a.start(id, 5));
  EXPECT_EQ(b.import_reads().get(id).value().parts, 1);
  EXPECT_FALSE(a.renew(id, kHeld));  // started: its uploader let go of it
  const auto got = x.claim();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, id);
  EXPECT_EQ(got->status, ImportStatus::kRunning);
  EXPECT_EQ(got->parts, 1);
  EXPECT_EQ(got->header, "email,first_name,consented_at");
  EXPECT_FALSE(a.start(id, 1));  // running: never receiving again
}

TYPED_TEST(ImportContract, DropForgetsTheUploadWithItsPartsAndRows) {
  auto& b = this->backend();
  Imports a{b.import_transactions()};
  const auto kept = upload(a, plain_parts(2));
  a.add_rows(kept, {{2, "refused", "invalid email"}});
  const auto id = a.create(sample_job());
  for (const auto& p : plain_parts(3)) a.add_part(id, p);
  a.add_rows(id, {{2, "refused", "invalid email"}, {3, "added", ""}});
  ASSERT_TRUE(b.import_reads().part(id, 2));

  a.drop(id);
  EXPECT_FALSE(b.import_reads().get(id));
  for (std::int64_t seq = 0; seq < 3; ++seq) EXPECT_FALSE(b.import_reads().part(id, seq));
  EXPECT_TRUE(b.import_reads().rows(id, 0, 100).empty());
  EXPECT_TRUE(a.run([&](ImportStore& s) { return !s.job(id).has_value(); }));
  EXPECT_FALSE(a.renew(id, kHeld));
  // Another import keeps everything.
  EXPECT_EQ(b.import_reads().get(kept).value().parts, 2);
  EXPECT_TRUE(b.import_reads().part(kept, 1));
  EXPECT_EQ(b.import_reads().rows(kept, 0, 100).size(), 1u);
  // A running one goes as well.
  a.drop(kept);
  EXPECT_FALSE(b.import_reads().get(kept));
  EXPECT_FALSE(b.import_reads().part(kept, 0));
  EXPECT_TRUE(b.import_reads().rows(kept, 0, 100).empty());
  EXPECT_FALSE(a.claim());
}

TYPED_TEST(ImportContract, ProgressIsFencedOnTheHolderAndTheNextPart) {
  auto& b = this->backend();
  auto other = b.instance("b");
  Imports a{b.import_transactions()}, x{other->import_transactions()};
  const auto id = upload(a, plain_parts(3));
  EXPECT_FALSE(a.progress(id, 0, {1, 1, 0, 0, 0}));  // nobody holds it yet
  ASSERT_EQ(a.claim().value().id, id);

  const ImportCounts c{3, 1, 1, 0, 1};
  EXPECT_FALSE(a.progress(id, 1, c, 1, 1));  // not the next part
  EXPECT_FALSE(x.progress(id, 0, c, 1, 1));  // not the holder
  EXPECT_FALSE(x.finish(id));
  EXPECT_FALSE(x.claim());  // held
  auto seen = b.import_reads().get(id).value();
  EXPECT_EQ(seen.next_part, 0);
  expect_counts(seen.counts, {});
  EXPECT_EQ(seen.status, ImportStatus::kRunning);

  EXPECT_TRUE(a.progress(id, 0, c, 2, 1));
  EXPECT_FALSE(a.progress(id, 0, c, 2, 1));  // a part applied twice counts once
  seen = b.import_reads().get(id).value();
  EXPECT_EQ(seen.next_part, 1);
  expect_counts(seen.counts, c);
  EXPECT_EQ(seen.confirms_email, 2);
  EXPECT_EQ(seen.confirms_sms, 1);
  EXPECT_EQ(seen.finished_at, 0);
  EXPECT_TRUE(a.progress(id, 1, c));
  EXPECT_EQ(b.import_reads().get(id).value().next_part, 2);
}

TYPED_TEST(ImportContract, AClaimTakesTheOldestRunningImportUntilItsLeaseRunsOut) {
  auto& b = this->backend();
  auto bi = b.instance("b");
  auto ci = b.instance("c");
  Imports a{b.import_transactions()}, x{bi->import_transactions()}, y{ci->import_transactions()};
  const auto receiving = a.create(sample_job());
  const auto first = upload(a, plain_parts(2));
  const auto second = upload(a, plain_parts(1));
  ASSERT_LT(first, second);

  const auto got = a.claim();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, first);
  EXPECT_EQ(x.claim().value().id, second);
  EXPECT_FALSE(y.claim());  // both held
  EXPECT_TRUE(a.progress(first, 0, {1, 1, 0, 0, 0}));

  // a stops renewing (its lease runs out): y takes the import over where
  // it stopped, and a is fenced out.
  ASSERT_TRUE(a.renew(first, kBrief));
  std::optional<ImportJob> taken;
  ASSERT_TRUE(as_time_passes(b, [&] { return (taken = y.claim()).has_value(); }));
  EXPECT_EQ(taken->id, first);
  EXPECT_EQ(taken->next_part, 1);
  EXPECT_EQ(taken->counts.added, 1);
  EXPECT_FALSE(a.progress(first, 1));
  EXPECT_FALSE(a.finish(first));
  EXPECT_FALSE(a.renew(first, kHeld));
  EXPECT_TRUE(y.progress(first, 1));
  EXPECT_TRUE(y.finish(first));
  EXPECT_EQ(b.import_reads().get(first).value().status, ImportStatus::kCompleted);
  EXPECT_FALSE(x.claim());  // second is still held by x; the upload is receiving
  EXPECT_EQ(b.import_reads().get(receiving).value().status, ImportStatus::kReceiving);
}

// A restart under the same name (its killed run's leases still hold) lets
// go of what that name held; another instance's leases stay.
TYPED_TEST(ImportContract, AStartReleasesWhatItsNameHeldAndNothingElse) {
  auto& b = this->backend();
  auto killed = b.instance("web-1");
  auto other = b.instance("web-2");
  Imports k{killed->import_transactions()}, o{other->import_transactions()};
  // Each registers at its start, as its import runner does.
  k.run([](ImportStore& s) { s.release_own(1000); });
  o.run([](ImportStore& s) { s.release_own(1000); });
  const auto first = upload(k, plain_parts(2));
  const auto second = upload(k, plain_parts(1));
  const auto receiving = k.create(sample_job());
  ASSERT_EQ(k.claim().value().id, first);
  ASSERT_EQ(o.claim().value().id, second);
  killed.reset();

  auto restarted = b.instance("web-1");
  Imports r{restarted->import_transactions()};
  EXPECT_FALSE(r.claim());  // both still held
  r.run([](ImportStore& s) { s.release_own(2000); });
  EXPECT_EQ(r.claim().value().id, first);
  EXPECT_FALSE(r.claim());  // web-2's lease holds
  EXPECT_EQ(r.stale(), std::vector<std::int64_t>{receiving});
  EXPECT_TRUE(o.progress(second, 0));
}

TYPED_TEST(ImportContract, StaleUploadsAreThoseWhoseLeaseRanOut) {
  auto& b = this->backend();
  Imports a{b.import_transactions()};
  const auto held = a.create(sample_job());
  const auto running = upload(a, plain_parts(1));
  const auto done = upload(a, plain_parts(1));
  ASSERT_EQ(a.claim().value().id, running);
  ASSERT_EQ(a.claim().value().id, done);
  ASSERT_TRUE(a.finish(done));
  ASSERT_TRUE(a.renew(running, kBrief));  // lapses as well, but is no upload
  EXPECT_TRUE(a.stale().empty());

  const auto dead = a.create(sample_job(), kBrief);
  ASSERT_TRUE(as_time_passes(b, [&] { return !a.stale().empty(); }));
  EXPECT_EQ(a.stale(), (std::vector<std::int64_t>{dead}));
  ASSERT_TRUE(a.renew(held, kBrief));
  ASSERT_TRUE(as_time_passes(b, [&] { return a.stale().size() == 2; }));
  EXPECT_EQ(a.stale(), (std::vector<std::int64_t>{held, dead}));
  EXPECT_TRUE(a.renew(dead, kHeld));  // its uploader is back in time
  EXPECT_EQ(a.stale(), (std::vector<std::int64_t>{held}));
}

TYPED_TEST(ImportContract, CountsAccumulateAcrossParts) {
  auto& b = this->backend();
  Imports a{b.import_transactions()};
  const auto id = upload(a, plain_parts(3));
  ASSERT_TRUE(a.claim());
  const std::vector<ImportCounts> per_part = {
      {4, 2, 1, 0, 1}, {5, 0, 2, 3, 0}, {1'000'000'000'000, 0, 0, 0, 1'000'000'000'000}};
  ImportCounts sum;
  std::int64_t email = 0, sms = 0;
  for (std::int64_t seq = 0; seq < 3; ++seq) {
    const auto& c = per_part[static_cast<std::size_t>(seq)];
    ASSERT_TRUE(a.progress(id, seq, c, seq + 1, 10 * seq));
    sum += c;
    email += seq + 1;
    sms += 10 * seq;
    const auto seen = b.import_reads().get(id).value();
    EXPECT_EQ(seen.next_part, seq + 1);
    expect_counts(seen.counts, sum);
    EXPECT_EQ(seen.confirms_email, email);
    EXPECT_EQ(seen.confirms_sms, sms);
  }
  // The writer's transaction sees the same.
  const auto job = a.run([&](ImportStore& s) { return s.job(id); });
  ASSERT_TRUE(job);
  EXPECT_EQ(job->counts.rows, 1'000'000'000'009);
  EXPECT_EQ(job->counts.refused, 1'000'000'000'001);
  EXPECT_EQ(job->confirms_email, 6);
  EXPECT_EQ(job->confirms_sms, 30);
}

TYPED_TEST(ImportContract, RowsKeepTheFirstVerdictOfALineAndPageInLineOrder) {
  auto& b = this->backend();
  Imports a{b.import_transactions()};
  const auto id = upload(a, plain_parts(1));
  const auto other = upload(a, plain_parts(1));
  const std::int64_t far = 4'000'000'000;  // past 32 bits
  const std::string why = "invalid email: \"a,b\" caf\xc3\xa9";
  a.add_rows(id, {{9, "refused", why}, {2, "added", ""}, {far, "unchanged", ""}});
  a.add_rows(id, {{2, "refused", "duplicate of line 1"}, {5, "updated", ""}});
  a.add_rows(other, {{3, "refused", "other"}});
  a.add_rows(id, {});

  const auto all = b.import_reads().rows(id, 0, 100);
  ASSERT_EQ(lines_of(all), (std::vector<std::int64_t>{2, 5, 9, far}));
  EXPECT_EQ(all[0].verdict, "added");  // the first verdict of line 2 stays
  EXPECT_EQ(all[0].reason, "");
  EXPECT_EQ(all[1].verdict, "updated");
  EXPECT_EQ(all[2].verdict, "refused");
  EXPECT_EQ(all[2].reason, why);
  EXPECT_EQ(all[3].verdict, "unchanged");
  EXPECT_EQ(lines_of(b.import_reads().rows(id, 0, 2)), (std::vector<std::int64_t>{2, 5}));
  EXPECT_EQ(lines_of(b.import_reads().rows(id, 5, 2)), (std::vector<std::int64_t>{9, far}));
  EXPECT_EQ(lines_of(b.import_reads().rows(id, 4, 1)), (std::vector<std::int64_t>{5}));
  EXPECT_TRUE(b.import_reads().rows(id, far, 10).empty());
  EXPECT_EQ(lines_of(b.import_reads().rows(other, 0, 10)), (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(b.import_reads().rows(id + other + 1, 0, 10).empty());
}

TYPED_TEST(ImportContract, FinishDropsThePartsAndKeepsCountsAndRows) {
  auto& b = this->backend();
  Imports a{b.import_transactions()};
  const auto id = upload(a, plain_parts(2));
  ASSERT_EQ(a.claim().value().id, id);
  ASSERT_TRUE(a.progress(id, 0, {2, 1, 0, 0, 1}, 1, 0));
  a.add_rows(id, {{3, "refused", "invalid email"}});
  ASSERT_TRUE(a.finish(id, ImportStatus::kCompleted, 5000));

  auto seen = b.import_reads().get(id).value();
  EXPECT_EQ(seen.status, ImportStatus::kCompleted);
  EXPECT_EQ(seen.finished_at, 5000);
  EXPECT_EQ(seen.error, "");
  EXPECT_EQ(seen.parts, 2);
  EXPECT_EQ(seen.next_part, 1);
  expect_counts(seen.counts, {2, 1, 0, 0, 1});
  EXPECT_EQ(seen.confirms_email, 1);
  EXPECT_FALSE(b.import_reads().part(id, 0));
  EXPECT_FALSE(b.import_reads().part(id, 1));
  EXPECT_EQ(lines_of(b.import_reads().rows(id, 0, 10)), (std::vector<std::int64_t>{3}));
  // Over: never again, never claimed, nothing more recorded.
  EXPECT_FALSE(a.finish(id, ImportStatus::kFailed, 6000, "again"));
  EXPECT_FALSE(a.progress(id, 1));
  EXPECT_FALSE(a.renew(id, kHeld));
  EXPECT_FALSE(a.claim());
  seen = b.import_reads().get(id).value();
  EXPECT_EQ(seen.status, ImportStatus::kCompleted);
  EXPECT_EQ(seen.finished_at, 5000);

  // A failure keeps why.
  const auto failed = upload(a, plain_parts(1));
  ASSERT_EQ(a.claim().value().id, failed);
  const std::string why =
      "part 0: \xe2\x80\x9c"
      "disk full\xe2\x80\x9d";
  ASSERT_TRUE(a.finish(failed, ImportStatus::kFailed, 7000, why));
  seen = b.import_reads().get(failed).value();
  EXPECT_EQ(seen.status, ImportStatus::kFailed);
  EXPECT_EQ(seen.finished_at, 7000);
  EXPECT_EQ(seen.error, why);
  EXPECT_FALSE(b.import_reads().part(failed, 0));
}

// The consent wording an import cites is stored under its hash in the
// import's transaction; a consent-log row may then cite it (SQL: a foreign
// key; memory: the same check), and storing it again changes nothing.
TYPED_TEST(ImportContract, AnImportStoresTheWordingItsConsentRowsCite) {
  auto& db = this->db();
  auto& b = this->backend();
  const auto ch = db.add_channel("imp@example.org", ConsentState::kConfirmed);
  const auto sid = db.subscriber_of(ch);
  const ConsentText wording{"import-1", "Yes, send me the newsletter", std::string(64, 'c')};
  auto cite = [&](const Transaction& tx, std::int64_t at) {
    ConsentEvent e;
    e.subscriber_id = sid;
    e.channel_id = ch;
    e.channel = ChannelKind::kEmail;
    e.address = "imp@example.org";
    e.action = ConsentAction::kGrant;
    e.source = ConsentSource::kImport;
    e.at = at;
    e.consent_text_version = wording.version;
    e.consent_text_sha256 = wording.sha256_hex;
    tx.consent_log.append_consent(e, &wording);
  };
  auto in_import = [&](const std::function<void(const Transaction&)>& f) {
    b.import_transactions().run_background([&](const ImportTransaction& t) { f(t.tx); });
  };
  EXPECT_ANY_THROW(in_import([&](const Transaction& tx) { cite(tx, 300); }));  // not stored

  in_import([&](const Transaction& tx) {
    tx.consent_log.store_consent_text(ChannelKind::kEmail, wording, 400);
    tx.consent_log.store_consent_text(ChannelKind::kEmail, wording, 401);
    cite(tx, 410);
  });
  const ConsentText relabelled{"import-2", wording.text, wording.sha256_hex};
  in_import([&](const Transaction& tx) {
    tx.consent_log.store_consent_text(ChannelKind::kSms, relabelled, 500);
    cite(tx, 510);
  });

  const auto v = b.reads().subscriber_by_channel(ChannelKind::kEmail, "imp@example.org");
  ASSERT_TRUE(v);
  ASSERT_EQ(v->consent_log.size(), 2u);  // the refused one left nothing
  EXPECT_EQ(v->consent_log[0].at, 410);
  EXPECT_EQ(v->consent_log[0].source, "import");
  EXPECT_EQ(v->consent_log[0].consent_text_version, "import-1");
  EXPECT_EQ(v->consent_log[1].at, 510);
  if constexpr (std::is_base_of_v<StoredBackend, TypeParam>) {  // memory keeps only hashes
    const auto rows =
        db_inspect::rows(b.location(),
                         "SELECT version, channel, created_at, text FROM consent_texts "
                         "WHERE sha256 = '" +
                             wording.sha256_hex + "'");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], "import-1");
    EXPECT_EQ(rows[0][1], "email");
    EXPECT_EQ(rows[0][2], "400");
    EXPECT_EQ(rows[0][3], wording.text);
  }
}

}  // namespace
}  // namespace sc::contract

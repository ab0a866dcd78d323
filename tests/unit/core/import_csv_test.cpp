// The import's CSV checks (sc/core/import.h): framing, encoding, limits and
// the header, as bytes arrive in any pieces; and the fields of a record.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sc/core/import.h"

namespace sc {
namespace {

struct Split {
  std::optional<ImportRefusal> refused;
  std::vector<ImportPart> parts;
  std::string header;
  std::int64_t rows = 0;
};

// Feeds `csv` in pieces of `piece` bytes (every split point is tried by the
// callers), then finishes.
Split split(const std::string& csv, std::size_t piece, ImportLimits limits = {}) {
  CsvSplitter s(limits);
  Split out;
  for (std::size_t at = 0; at < csv.size() && !out.refused; at += piece)
    out.refused = s.feed(std::string_view(csv).substr(at, piece), out.parts);
  if (!out.refused) out.refused = s.finish(out.parts);
  out.header = s.header();
  out.rows = s.rows();
  return out;
}

std::string joined(const std::vector<ImportPart>& parts) {
  std::string all;
  for (const auto& p : parts) all += p.data;
  return all;
}

TEST(ImportCsvTest, AnyPiecesGiveTheSamePartsBomAndCrlfIncluded) {
  const std::string csv =
      "\xEF\xBB\xBF"
      "email,first_name\r\n"
      "a@example.org,\"Ann, \"\"A\"\"\"\r\n"
      "\r\n"
      "b@example.org,\"Bé\r\nline\"\r\n"
      "c@example.org,Cy";
  const auto whole = split(csv, csv.size());
  ASSERT_FALSE(whole.refused) << whole.refused->message;
  EXPECT_EQ(whole.header, "email,first_name");
  EXPECT_EQ(whole.rows, 3);
  ASSERT_EQ(whole.parts.size(), 1u);
  EXPECT_EQ(whole.parts[0].first_line, 2);
  EXPECT_EQ(whole.parts[0].data,
            "a@example.org,\"Ann, \"\"A\"\"\"\n\nb@example.org,\"Bé\r\nline\"\nc@example.org,Cy\n");
  for (std::size_t piece = 1; piece < csv.size(); ++piece) {
    const auto s = split(csv, piece);
    ASSERT_FALSE(s.refused) << piece << ": " << s.refused->message;
    EXPECT_EQ(joined(s.parts), whole.parts[0].data) << piece;
    EXPECT_EQ(s.rows, 3);
  }
}

TEST(ImportCsvTest, PartsEndOnRecordsAndKeepTheirLineNumbers) {
  std::string csv = "email\n";
  for (int i = 0; i < 100; ++i) csv += "\"p" + std::to_string(i) + "\n@example.org\"\n";
  ImportLimits limits;
  limits.part_bytes = 64;
  const auto s = split(csv, 7, limits);
  ASSERT_FALSE(s.refused);
  ASSERT_GT(s.parts.size(), 10u);
  std::int64_t line = 2;
  for (std::size_t i = 0; i < s.parts.size(); ++i) {
    EXPECT_EQ(s.parts[i].seq, static_cast<std::int64_t>(i));
    EXPECT_EQ(s.parts[i].first_line, line);
    EXPECT_EQ(s.parts[i].data.back(), '\n');
    for (char c : s.parts[i].data) line += c == '\n';  // two lines a record
  }
  EXPECT_EQ(line, 202);
}

TEST(ImportCsvTest, BadFilesAreRefusedWithTheirLine) {
  struct Case {
    std::string csv;
    int status;
    std::string code, says;
  } cases[] = {
      {"email\na\xC3@x.org\n", 422, "invalid_encoding", "line 2"},
      {"email\n\xC0\xAF\n", 422, "invalid_encoding", "line 2"},          // overlong
      {"email\n\xED\xA0\x80\n", 422, "invalid_encoding", "line 2"},      // a surrogate
      {"email\n\xF4\x90\x80\x80\n", 422, "invalid_encoding", "line 2"},  // past U+10FFFF
      {"email\nx\xE2\x82", 422, "invalid_encoding", ""},                 // cut short
      {std::string("email\n\0\n", 8), 422, "invalid_encoding", "NUL"},
      {"email\n\"open\n\nstill", 422, "invalid_csv", "line 2: a quoted field is not closed"},
      {"email\nab\"c\n", 422, "invalid_csv", "line 2"},
      {"email\n\"ab\"c\n", 422, "invalid_csv", "after a closing quote"},
      {"email\nx\ry\n", 422, "invalid_csv", "carriage return"},
      {"nope\nx\n", 422, "invalid_header", "unknown column 'nope'"},
      {"Email , EMAIL\nx,y\n", 422, "invalid_header", "named twice"},
      {"first_name\nAnn\n", 422, "invalid_header", "neither an email nor a phone"},
      {"", 422, "empty_import", "no header"},
      {"\n\n", 422, "empty_import", "no header"},
      {"email\n\n\n", 422, "empty_import", "no rows"},
  };
  for (const auto& c : cases) {
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, c.csv.size() + 1}) {
      const auto s = split(c.csv, piece);
      ASSERT_TRUE(s.refused) << c.code << " piece " << piece;
      EXPECT_EQ(s.refused->status, c.status) << c.code;
      EXPECT_EQ(s.refused->code, c.code) << s.refused->message;
      EXPECT_NE(s.refused->message.find(c.says), std::string::npos) << s.refused->message;
    }
  }
}

TEST(ImportCsvTest, LimitsStopTheUploadAsSoonAsTheyArePassed) {
  ImportLimits limits;
  limits.max_record_bytes = 100;
  limits.max_rows = 3;
  limits.max_bytes = 1000;
  auto s = split("email\n" + std::string(101, 'a') + "\n", 10, limits);
  ASSERT_TRUE(s.refused);
  EXPECT_EQ(s.refused->code, "line_too_long");
  EXPECT_NE(s.refused->message.find("line 2"), std::string::npos);
  s = split("email\na\nb\nc\nd\n", 1, limits);
  ASSERT_TRUE(s.refused);
  EXPECT_EQ(s.refused->status, 413);
  EXPECT_EQ(s.refused->code, "too_many_rows");
  EXPECT_TRUE(split("email\na\nb\n\n\n\nc\n", 1, limits).refused == std::nullopt);
  std::string big = "email\n";
  while (big.size() <= 1000) big += "a@example.org\n";
  limits.max_rows = 1000;
  s = split(big, 64, limits);
  ASSERT_TRUE(s.refused);
  EXPECT_EQ(s.refused->status, 413);
  EXPECT_EQ(s.refused->code, "import_too_large");
}

TEST(ImportCsvTest, FieldsAreUnquoted) {
  EXPECT_EQ(csv_fields("a,\"b,c\",\"d\"\"e\",,\"\""),
            (std::vector<std::string>{"a", "b,c", "d\"e", "", ""}));
  EXPECT_EQ(csv_fields("\"x\ny\""), (std::vector<std::string>{"x\ny"}));
  EXPECT_EQ(csv_fields(""), (std::vector<std::string>{""}));
}

TEST(ImportCsvTest, ARowCsvLineQuotesItsReason) {
  EXPECT_EQ(import_row_csv({12, "refused", "say \"no\", twice"}),
            "12,refused,\"say \"\"no\"\", twice\"\r\n");
}

}  // namespace
}  // namespace sc

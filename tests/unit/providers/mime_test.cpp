#include "sc/providers/mime.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "provider_test_util.h"
#include "support/temp_dir.h"

namespace sc::providers {
namespace {

using nlohmann::json;
using sc::testing::TempDir;

const std::filesystem::path kHere =
    (std::filesystem::path(SC_SOURCE_DIR) / "tests" / "unit" / "providers");

OutboundEmail sample() {
  OutboundEmail m;
  m.outbox_id = 42;
  m.message_id = "20261128.c42.s17@mail.example.com";
  m.date_unix = 1795828249;  // Sat, 28 Nov 2026 01:10:49 UTC
  m.from = {"news@example.com", "Example News"};
  m.to = {"alice@example.org", "Alice"};
  m.subject = "Weekly digest";
  m.text = "Hello Alice,\nthis is the digest.\n";
  m.html = "<p>Hello Alice,</p>\n<p>this is the digest.</p>\n";
  m.list_unsubscribe_url = "https://example.com/u/opaque-token-123";
  return m;
}

// Parses `mime` with Python's email package; fails the test if it cannot.
json parse_with_python(const std::string& mime) {
  TempDir dir;
  auto file = dir / "m.eml";
  sc::provider_testing::write_file(file, mime);
  auto [status, out] =
      sc::provider_testing::run_capture(sc::provider_testing::python3() + " " +
                                        (kHere / "mime_parse.py").string() + " " + file.string());
  EXPECT_EQ(status, 0) << out;
  json j = json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out;
  return j;
}

std::string header_block(const std::string& mime) {
  return mime.substr(0, mime.find("\r\n\r\n") + 2);
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    auto e = s.find("\r\n", i);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(i, e - i));
    i = e + 2;
  }
  return out;
}

std::string crlf_to_lf(std::string s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

// Every line ends in CRLF, nothing is 8-bit, no line passes `max`.
void expect_wire_safe(const std::string& mime, std::size_t max = 998) {
  for (std::size_t i = 0; i < mime.size(); ++i) {
    auto c = static_cast<unsigned char>(mime[i]);
    ASSERT_LT(c, 0x80) << "8-bit byte at " << i;
    ASSERT_NE(c, 0) << "NUL at " << i;
    if (c == '\n') {
      ASSERT_TRUE(i > 0 && mime[i - 1] == '\r') << "bare LF at " << i;
    }
    if (c == '\r') {
      ASSERT_TRUE(i + 1 < mime.size() && mime[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  ASSERT_TRUE(mime.size() >= 2 && mime.substr(mime.size() - 2) == "\r\n");
  for (const auto& l : lines_of(mime)) ASSERT_LE(l.size(), max) << l;
}

std::string header(const json& parsed, const std::string& name) {
  for (const auto& h : parsed["headers"]) {
    if (h[0] == name) return h[1];
  }
  return "<missing>";
}

TEST(Mime, DateIsRfc5322WithEnglishNamesAndUtc) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1700000000), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(rfc5322_date(1795828249), "Sat, 28 Nov 2026 01:10:49 +0000");
}

TEST(Mime, MultipartAlternativeParsesBackWithEveryHeader) {
  OutboundEmail m = sample();
  m.list_unsubscribe_mailto = "mailto:unsubscribe@example.com?subject=unsubscribe";
  m.list_id = "Example News <news.example.com>";
  m.reply_to = "support@example.com";
  m.extra_headers = {{"X-Campaign", "c42"}};
  std::string mime = build_mime(m);
  expect_wire_safe(mime, 78);

  json p = parse_with_python(mime);
  EXPECT_TRUE(p["defects"].empty()) << p.dump();
  EXPECT_EQ(p["type"], "multipart/alternative");
  EXPECT_EQ(header(p, "Date"), "Sat, 28 Nov 2026 01:10:49 +0000");
  EXPECT_EQ(p["from"], json::parse(R"([["Example News","news@example.com"]])"));
  EXPECT_EQ(p["to"], json::parse(R"([["Alice","alice@example.org"]])"));
  EXPECT_EQ(p["subject"], "Weekly digest");
  EXPECT_EQ(header(p, "Message-ID"), "<20261128.c42.s17@mail.example.com>");
  EXPECT_EQ(header(p, "MIME-Version"), "1.0");
  EXPECT_EQ(header(p, "List-Unsubscribe"),
            "<https://example.com/u/opaque-token-123>, "
            "<mailto:unsubscribe@example.com?subject=unsubscribe>");
  EXPECT_EQ(header(p, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(header(p, "List-Id"), "Example News <news.example.com>");
  EXPECT_EQ(header(p, "Reply-To"), "support@example.com");
  EXPECT_EQ(header(p, "X-Campaign"), "c42");

  ASSERT_EQ(p["parts"].size(), 2u);
  EXPECT_EQ(p["parts"][0]["type"], "text/plain");  // the last part is preferred: html goes last
  EXPECT_EQ(p["parts"][1]["type"], "text/html");
  for (const auto& part : p["parts"]) {
    EXPECT_EQ(part["charset"], "utf-8");
    EXPECT_TRUE(part["defects"].empty());
  }
  EXPECT_EQ(crlf_to_lf(p["parts"][0]["content"]), m.text);
  EXPECT_EQ(crlf_to_lf(p["parts"][1]["content"]), m.html);
}

TEST(Mime, TextOnlyIsASinglePart) {
  OutboundEmail m = sample();
  m.html.clear();
  std::string mime = build_mime(m);
  EXPECT_EQ(mime.find("multipart"), std::string::npos);
  json p = parse_with_python(mime);
  EXPECT_EQ(p["type"], "text/plain");
  ASSERT_EQ(p["parts"].size(), 1u);
  EXPECT_EQ(crlf_to_lf(p["parts"][0]["content"]), m.text);
}

TEST(Mime, NonAsciiSubjectAndNamesAreEncodedWordsAndFolded) {
  OutboundEmail m = sample();
  m.subject =
      "Grüße aus Köln — 日本語のニュースレター, Ελληνικά και ещё немного русского текста 🎉🎉";
  m.from.display_name = "Jürgen Müller, \"Newsletter\"";
  m.to.display_name = "Zoë 🚀 Ångström";
  m.list_id = "Nachrichten für Köln <koeln.example.com>";
  std::string mime = build_mime(m);
  expect_wire_safe(mime, 78);
  EXPECT_NE(header_block(mime).find("Subject: =?UTF-8?B?"), std::string::npos);

  json p = parse_with_python(mime);
  EXPECT_TRUE(p["defects"].empty()) << p.dump();
  EXPECT_EQ(p["subject"], m.subject);
  EXPECT_EQ(p["from"][0][0], m.from.display_name);
  EXPECT_EQ(p["from"][0][1], "news@example.com");
  EXPECT_EQ(p["to"][0][0], m.to.display_name);
  EXPECT_EQ(header(p, "List-Id"), m.list_id);
}

TEST(Mime, AsciiNamesWithSpecialsAreQuoted) {
  OutboundEmail m = sample();
  m.from.display_name = "Smith, John \"JJ\" \\ Co.";
  json p = parse_with_python(build_mime(m));
  ASSERT_EQ(p["from"].size(), 1u);
  EXPECT_EQ(p["from"][0][0], m.from.display_name);
}

TEST(Mime, LongAsciiSubjectIsFoldedAndUnfoldsToTheSame) {
  OutboundEmail m = sample();
  m.subject.clear();
  for (int i = 0; i < 30; ++i) m.subject += "word" + std::to_string(i) + " ";
  m.subject += "end";
  std::string mime = build_mime(m);
  expect_wire_safe(mime, 78);
  EXPECT_EQ(parse_with_python(mime)["subject"], m.subject);
}

TEST(Mime, HeaderInjectionNeverStartsANewHeader) {
  OutboundEmail m = sample();
  m.subject = "Hi\r\nBcc: victim1@evil.test";
  m.from.display_name = "News\r\nBcc: victim2@evil.test";
  m.to.address = "alice@example.org>\r\nBcc: <victim3@evil.test";
  m.to.display_name = "Alice\nX-Evil: 1";
  m.message_id = "id@example.com>\r\nX-Evil: 2";
  m.reply_to = "r@example.com\r\nX-Evil: 3";
  m.list_unsubscribe_url = "https://example.com/u/t\r\nX-Evil: 4";
  m.list_id = "List\rX-Evil: 5";
  m.extra_headers = {{"X-Ok\r\nX-Evil", "6"},
                     {"X-Fine", "v\r\nX-Evil: 7"},
                     {"X-Nul", std::string("a\0b", 3)},
                     {"Bcc", "victim4@evil.test"},
                     {"Content-Type", "text/evil"}};
  std::string mime = build_mime(m);
  expect_wire_safe(mime, 998);
  std::string head = header_block(mime);
  for (const auto& line : lines_of(head)) {
    EXPECT_NE(line.rfind("Bcc", 0), 0u) << line;
    EXPECT_NE(line.rfind("X-Evil", 0), 0u) << line;
  }
  EXPECT_EQ(head.find("text/evil"), std::string::npos);

  json p = parse_with_python(mime);
  std::set<std::string> names;
  for (const auto& h : p["headers"]) names.insert(h[0].get<std::string>());
  EXPECT_EQ(names.count("Bcc"), 0u);
  EXPECT_EQ(names.count("X-Evil"), 0u);
  EXPECT_EQ(names.count("X-Fine"), 1u);
  ASSERT_EQ(p["to"].size(), 1u);  // no extra recipient smuggled in
  EXPECT_EQ(p["from"].size(), 1u);
}

TEST(Mime, FiveThousandCharLinesAreSoftBroken) {
  OutboundEmail m = sample();
  m.text =
      std::string(5000, 'a') + "\n" + std::string(3000, 'x') + " " + std::string(2000, 'y') + "\n";
  m.html = "<p>" + std::string(5000, 'b') + "</p>";
  std::string mime = build_mime(m);
  expect_wire_safe(mime, 78);
  json p = parse_with_python(mime);
  EXPECT_EQ(crlf_to_lf(p["parts"][0]["content"]), m.text);
  EXPECT_EQ(crlf_to_lf(p["parts"][1]["content"]), m.html);
}

TEST(Mime, LinesStartingWithDotsSurvive) {
  OutboundEmail m = sample();
  m.text = ".\n.hidden line\n..two dots\nend\n.";
  m.html.clear();
  std::string mime = build_mime(m);
  EXPECT_NE(mime.find("\r\n.hidden line\r\n"), std::string::npos);  // left for SMTP dot-stuffing
  json p = parse_with_python(mime);
  // A single part must end in CRLF on the wire, so a final line gains one.
  EXPECT_EQ(crlf_to_lf(p["parts"][0]["content"]), m.text + "\n");
}

TEST(Mime, EightBitAndAwkwardContentIsSevenBitOnTheWire) {
  OutboundEmail m = sample();
  m.text =
      "Grüße 日本 🎉\nequals = sign, =3D literal\ntrailing spaces   \ntab\tin\tline\t\nFrom the "
      "start\r\nCRLF line\rbare CR\n";
  m.html = "<p>Ünïcödé &amp; = \xc2\xa0 nbsp</p>";
  std::string mime = build_mime(m);
  expect_wire_safe(mime, 76 + 2);
  EXPECT_NE(mime.find("=46rom the start"),
            std::string::npos);  // no ">From" mangling by mbox stores
  json p = parse_with_python(mime);
  EXPECT_TRUE(p["defects"].empty());
  // Line ends are normalised to CRLF (a bare CR becomes one too).
  EXPECT_EQ(crlf_to_lf(p["parts"][0]["content"]),
            "Grüße 日本 🎉\nequals = sign, =3D literal\ntrailing spaces   \ntab\tin\tline\t\nFrom "
            "the start\nCRLF "
            "line\nbare CR\n");
  EXPECT_EQ(crlf_to_lf(p["parts"][1]["content"]), m.html);
}

TEST(Mime, QuotedPrintableBasics) {
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable("end "), "end=20");
  EXPECT_EQ(quoted_printable("x\ny"), "x\r\ny");
  EXPECT_EQ(quoted_printable("x\n"), "x\r\n");
  EXPECT_EQ(quoted_printable("\xc3\xa9"), "=C3=A9");
  std::string qp = quoted_printable(std::string(200, 'z'));
  for (const auto& l : lines_of(qp)) EXPECT_LE(l.size(), 76u);
}

TEST(Mime, BoundaryIsRandomAndNotInContent) {
  OutboundEmail m = sample();
  std::string a = build_mime(m), b = build_mime(m);
  auto boundary_of = [](const std::string& s) {
    auto p = s.find("boundary=\"") + 10;
    return s.substr(p, s.find('"', p) - p);
  };
  std::string ba = boundary_of(a);
  EXPECT_NE(ba, boundary_of(b));
  EXPECT_GE(ba.size(), 20u);
  // Exactly two delimiters and one closing delimiter.
  std::size_t count = 0;
  for (auto p = a.find("--" + ba); p != std::string::npos; p = a.find("--" + ba, p + 1)) ++count;
  EXPECT_EQ(count, 3u);
}

TEST(Mime, OneClickHeaderOnlyWithAnHttpsUrl) {
  OutboundEmail m = sample();
  m.list_unsubscribe_url.clear();
  m.list_unsubscribe_mailto = "unsubscribe@example.com";
  std::string head = header_block(build_mime(m));
  EXPECT_NE(head.find("List-Unsubscribe: <mailto:unsubscribe@example.com>\r\n"), std::string::npos);
  EXPECT_EQ(head.find("List-Unsubscribe-Post"), std::string::npos);
}

TEST(Mime, MissingMessageIdGetsAUniqueOne) {
  OutboundEmail m = sample();
  m.message_id.clear();
  json p = parse_with_python(build_mime(m));
  std::string id = header(p, "Message-ID");
  EXPECT_EQ(id.front(), '<');
  EXPECT_NE(id.find("@example.com>"), std::string::npos);
}

}  // namespace
}  // namespace sc::providers

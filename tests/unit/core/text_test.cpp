#include "sc/core/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/unit_fakes.h"

namespace sc::text {
namespace {

TEST(Utf8, AcceptsWellFormed) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("Zo\xc3\xab"));                // U+00EB
  EXPECT_TRUE(is_valid_utf8("\xe5\xb1\xb1\xe7\x94\xb0"));  // 山田
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));          // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xed\x9f\xbf"));              // U+D7FF, last before surrogates
  EXPECT_TRUE(is_valid_utf8("\xee\x80\x80"));              // U+E000, first after
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));          // U+10FFFF
  EXPECT_TRUE(
      is_valid_utf8(std::string("a\0b", 3)));  // NUL is valid UTF-8 (has_control catches it)
}

TEST(Utf8, RefusesMalformed) {
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated 2-byte
  EXPECT_FALSE(is_valid_utf8("\xe5\xb1"));          // truncated 3-byte
  EXPECT_FALSE(is_valid_utf8("\xf0\x9f\x98"));      // truncated 4-byte
  EXPECT_FALSE(is_valid_utf8("\xc3(x"));            // bad continuation
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong 3-byte
  EXPECT_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));  // overlong 4-byte
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // U+D800 surrogate
  EXPECT_FALSE(is_valid_utf8("\xed\xbf\xbf"));      // U+DFFF surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
  EXPECT_FALSE(is_valid_utf8("\xfe"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("ok\xe2\x82"));  // truncated at the end after valid text
}

TEST(HasControl, FindsC0C1DelAndDisguises) {
  EXPECT_FALSE(has_control("Jean-Luc O'Brien"));
  EXPECT_FALSE(has_control("Zo\xc3\xab \xe5\xb1\xb1\xe7\x94\xb0"));
  EXPECT_FALSE(has_control("\xc2\xa0"));      // NBSP (C2 A0) is not C1
  EXPECT_FALSE(has_control("\xe2\x80\xa7"));  // U+2027, just before the LS..RLO range
  EXPECT_FALSE(has_control("\xe2\x80\xaf"));  // U+202F, just after
  EXPECT_TRUE(has_control(std::string("a\0b", 3)));
  EXPECT_TRUE(has_control("a\rb"));
  EXPECT_TRUE(has_control("a\nb"));
  EXPECT_TRUE(has_control("a\tb"));
  EXPECT_TRUE(has_control("\x1b[31m"));
  EXPECT_TRUE(has_control("a\x7f"));
  EXPECT_TRUE(has_control("\xc2\x80"));         // U+0080
  EXPECT_TRUE(has_control("\xc2\x85"));         // NEL
  EXPECT_TRUE(has_control("\xc2\x9f"));         // U+009F
  EXPECT_TRUE(has_control("\xe2\x80\xa8"));     // LINE SEPARATOR
  EXPECT_TRUE(has_control("\xe2\x80\xa9"));     // PARAGRAPH SEPARATOR
  EXPECT_TRUE(has_control("\xe2\x80\xaa"));     // LRE
  EXPECT_TRUE(has_control("abc\xe2\x80\xae"));  // RLO at the very end
  EXPECT_TRUE(has_control("\xe2\x81\xa6"));     // LRI
  EXPECT_TRUE(has_control("\xe2\x81\xa9"));     // PDI
  EXPECT_TRUE(has_control("\xe2\x80\x8e"));     // LRM
  EXPECT_TRUE(has_control("\xe2\x80\x8f"));     // RLM
  EXPECT_TRUE(has_control("\xd8\x9c"));         // ARABIC LETTER MARK
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonString, EscapesQuotesBackslashesAndEveryControl) {
  EXPECT_EQ(json_string(""), "\"\"");
  EXPECT_EQ(json_string("plain <p>&amp;</p> 100%"), "\"plain <p>&amp;</p> 100%\"");
  EXPECT_EQ(json_string("say \"hi\" \\ bye"), "\"say \\\"hi\\\" \\\\ bye\"");
  EXPECT_EQ(json_string("a\nb\r\tc\b\f"), "\"a\\nb\\r\\tc\\b\\f\"");
  EXPECT_EQ(json_string(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  // Every byte below 0x20 comes out escaped; nothing raw below 0x20 remains.
  for (int c = 0; c < 0x20; ++c) {
    auto out = json_string(std::string(1, static_cast<char>(c)));
    for (char o : out) EXPECT_GE(static_cast<unsigned char>(o), 0x20) << c;
  }
}

TEST(JsonString, KeepsUtf8AndReplacesWhatIsNotUtf8) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("caf\xc3"), "\"caf\xef\xbf\xbd\"");              // cut short
  EXPECT_EQ(json_string("\xc0\xafx"), "\"\xef\xbf\xbd\xef\xbf\xbdx\"");  // overlong '/'
  EXPECT_EQ(json_string("\xed\xa0\x80"),
            "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // a surrogate
  EXPECT_EQ(json_string("\xff"), "\"\xef\xbf\xbd\"");
  EXPECT_TRUE(is_valid_utf8(json_string("\x80\xbf\xfe ok \xf4\x90\x80\x80")));
}

TEST(Trim, RemovesAsciiWhitespaceOnly) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("\xc2\xa0x"), "\xc2\xa0x");
}

TEST(ToLowerAscii, LeavesNonAsciiBytesAlone) {
  EXPECT_EQ(to_lower_ascii("AbC-\xc3\x89"), "abc-\xc3\x89");
}

TEST(Utf8Length, CountsCodePoints) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("Zo\xc3\xab"), 3u);
  EXPECT_EQ(utf8_length("\xe5\xb1\xb1\xe7\x94\xb0"), 2u);
  EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80!"), 2u);
}

TEST(StripCrlf, RemovesCrLfAndNul) {
  EXPECT_EQ(strip_crlf(std::string("a\r\nBcc: x\0y", 11)), "aBcc: xy");
  EXPECT_EQ(strip_crlf("clean"), "clean");
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret-key", "secret-key"));
  EXPECT_FALSE(constant_time_equal("secret-key", "secret-kez"));
  EXPECT_FALSE(constant_time_equal("Xecret-key", "secret-key"));
  EXPECT_FALSE(constant_time_equal("secret", "secret-key"));
  EXPECT_FALSE(constant_time_equal("secret-key", "secret"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
  // High bytes must not be lost to sign extension.
  EXPECT_FALSE(constant_time_equal("\x80", std::string("\x00", 1)));
  EXPECT_FALSE(constant_time_equal("\xff", "\x7f"));
}

// A Signer that records what it was asked to digest and answers a fixed-length
// digest, so the test sees that both sides are reduced before comparing.
class RecordingDigest final : public Signer {
 public:
  std::string sign(std::string_view data) const override {
    seen.emplace_back(data);
    return inner.sign(data);
  }
  bool verify(std::string_view, std::string_view) const override {
    ADD_FAILURE() << "digest_equal must not call verify";
    return false;
  }
  unit::FakeSigner inner{"process-key"};
  mutable std::vector<std::string> seen;
};

// The admin key's length must not leak: constant_time_equal returns at once
// on a length mismatch, so secrets of any length are compared as digests.
TEST(DigestEqual, DigestsBothSidesWhateverTheirLengths) {
  RecordingDigest d;
  EXPECT_TRUE(digest_equal(d, "admin-key-123", "admin-key-123"));
  EXPECT_FALSE(digest_equal(d, "admin-key-123", "a"));
  EXPECT_FALSE(digest_equal(d, "admin-key-123", "admin-key-124"));
  EXPECT_FALSE(digest_equal(d, "admin-key-123", std::string(4096, 'x')));
  EXPECT_FALSE(digest_equal(d, "", "x"));
  EXPECT_TRUE(digest_equal(d, "", ""));
  const std::vector<std::string> want = {"admin-key-123",
                                         "admin-key-123",
                                         "admin-key-123",
                                         "a",
                                         "admin-key-123",
                                         "admin-key-124",
                                         "admin-key-123",
                                         std::string(4096, 'x'),
                                         "",
                                         "x",
                                         "",
                                         ""};
  EXPECT_EQ(d.seen, want);
}

}  // namespace
}  // namespace sc::text

#include "sc/core/consent_text.h"

#include <gtest/gtest.h>

#include <string>

namespace sc {
namespace {

// A stand-in hash that shows what it was given: the version must come from
// the hash of the trimmed text.
std::string fake_hash(std::string_view s) { return std::string(s) + std::string(12, '0'); }

TEST(ConsentText, TrailingBlankSpaceIsTrimmedBeforeItIsHashed) {
  const auto t = make_consent_text("email", "I agree.\n \n", fake_hash);
  EXPECT_EQ(t.text, "I agree.");
  EXPECT_EQ(t.sha256_hex, fake_hash("I agree."));
  EXPECT_EQ(t.version, "email-" + fake_hash("I agree.").substr(0, 12));
}

TEST(ConsentText, LeadingAndInnerSpaceStay) {
  const auto t = make_consent_text("sms", "  Reply YES\nto join", fake_hash);
  EXPECT_EQ(t.text, "  Reply YES\nto join");
  EXPECT_EQ(t.version.rfind("sms-", 0), 0u);
  EXPECT_EQ(t.version.size(), 4u + 12u);
}

TEST(ConsentText, ADifferentTextIsADifferentVersion) {
  EXPECT_NE(make_consent_text("email", "a", fake_hash).version,
            make_consent_text("email", "b", fake_hash).version);
  EXPECT_EQ(make_consent_text("email", "a\n", fake_hash).version,
            make_consent_text("email", "a", fake_hash).version);
}

}  // namespace
}  // namespace sc

#include "sc/core/email.h"

#include <gtest/gtest.h>

#include <string>

namespace sc {
namespace {

struct Valid {
  std::string raw;
  std::string normalised;
};

class EmailValid : public ::testing::TestWithParam<Valid> {};

TEST_P(EmailValid, ParsesAndNormalises) {
  auto r = Email::parse(GetParam().raw);
  ASSERT_TRUE(r.ok()) << "'" << GetParam().raw << "': " << r.error().message;
  EXPECT_EQ(r->str(), GetParam().normalised);
}

INSTANTIATE_TEST_SUITE_P(
    Table, EmailValid,
    ::testing::Values(
        Valid{"user@example.com", "user@example.com"},
        // Trimmed; only the domain is lower-cased (the local part is the host's to interpret).
        Valid{"  User.Name@Example.COM \t\r\n", "User.Name@example.com"},
        Valid{"first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"},
        Valid{"o'brien@example.ie", "o'brien@example.ie"},
        Valid{"a!#$%&*+/=?^_`{|}~-@example.org", "a!#$%&*+/=?^_`{|}~-@example.org"},
        Valid{"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
        Valid{"x@a-b.example.com", "x@a-b.example.com"}, Valid{"1@123.example", "1@123.example"},
        // 64-character local part is the limit, not past it.
        Valid{std::string(64, 'a') + "@example.com", std::string(64, 'a') + "@example.com"},
        // 254 characters in total is allowed.
        Valid{std::string(64, 'a') + "@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                  std::string(57, 'd') + ".com",
              std::string(64, 'a') + "@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                  std::string(57, 'd') + ".com"}));

class EmailInvalid : public ::testing::TestWithParam<std::string> {};

TEST_P(EmailInvalid, IsRefusedWithFieldEmail) {
  auto r = Email::parse(GetParam());
  ASSERT_FALSE(r.ok()) << "accepted: '" << GetParam() << "' as " << r->str();
  EXPECT_EQ(r.error().kind, ErrorCode::kInvalidInput);
  EXPECT_EQ(r.error().code, "invalid_email");
  EXPECT_EQ(r.error().field, "email");
}

INSTANTIATE_TEST_SUITE_P(
    Table, EmailInvalid,
    ::testing::Values(
        "", "   ", "plainaddress", "@example.com", "user@", "user@@example.com", "a@b@c",
        "a@b@c.com",
        "user@localhost",     // missing TLD
        "user@example.c",     // one-letter TLD
        "user@example.123",   // numeric TLD
        "user@example..com",  // empty label
        "user@.example.com", "user@example.com.", "user@-example.com", "user@example-.com",
        "user..name@example.com",  // double dot in local
        ".user@example.com", "user.@example.com",
        "\"john doe\"@example.com",                                    // quoted local part
        "\"a\"@example.com", "user@[192.168.0.1]", "user@[IPv6:::1]",  // IP literals
        "user@192.168.0.1",                                            // numeric TLD again
        "us er@example.com", "user@exa mple.com", "user@example.com\r\nBcc: victim@example.com",
        "user\r@example.com", std::string("user\0@example.com", 17), "user\t@example.com",
        "user\x7f@example.com", "user@example.com\xc2\x85",  // NEL (C1)
        "\xe2\x80\xaeuser@example.com",                      // RIGHT-TO-LEFT OVERRIDE
        "user@exa\xe2\x81\xa6mple.com",                      // LEFT-TO-RIGHT ISOLATE
        "user@ex\xff"
        "ample.com",  // invalid UTF-8
        "us\xc0\xaf"
        "er@example.com",  // overlong '/'
        "user@b\xc3\xbc"
        "cher.example",             // unicode domain (must arrive as punycode)
        "j\xc3\xb6rg@example.com",  // unicode local part
        "user@example.com>", "<user@example.com>", "user@exam_ple.com",
        "user@example.com,other@example.com",
        std::string(65, 'a') + "@example.com",  // local part over 64
        std::string(64, 'a') + "@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
            std::string(58, 'd') + ".com",        // 255 characters
        "user@" + std::string(64, 'a') + ".com",  // label over 63
        std::string(2000, 'a') + "@example.com"));

TEST(Email, LocalAndDomainSplitAtLastAt) {
  auto r = Email::parse("Some.One@Mail.Example.ORG");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->local(), "Some.One");
  EXPECT_EQ(r->domain(), "mail.example.org");
}

TEST(Email, EqualityIsOnTheNormalisedForm) {
  EXPECT_EQ(Email::parse(" a@EXAMPLE.com").value(), Email::parse("a@example.COM ").value());
  EXPECT_FALSE(Email::parse("A@example.com").value() == Email::parse("a@example.com").value());
}

}  // namespace
}  // namespace sc

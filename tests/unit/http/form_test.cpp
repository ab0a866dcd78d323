#include "http/form.h"

#include <gtest/gtest.h>

#include <string>

namespace sc::detail {
namespace {

Pairs parse_ok(std::string_view body) {
  auto r = parse_urlencoded(body);
  EXPECT_TRUE(r.ok()) << body;
  return r.ok() ? r.value() : Pairs{};
}

TEST(Urlencoded, DecodesPercentAndPlus) {
  auto p = parse_ok("email=a%40example.com&first_name=Zo%C3%AB+Smith&empty=&flag&x=%2B1+%25");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"email", "a@example.com"}));
  EXPECT_EQ(p[1].second, "Zo\xc3\xab Smith");
  EXPECT_EQ(p[2], (std::pair<std::string, std::string>{"empty", ""}));
  EXPECT_EQ(p[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(p[4].second, "+1 %");
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_EQ(parse_ok("&&a=1&&").size(), 1u);
  EXPECT_EQ(parse_ok("k%3Dx=v%26w")[0], (std::pair<std::string, std::string>{"k=x", "v&w"}));
  EXPECT_EQ(parse_ok("a=b=c")[0].second, "b=c");
  EXPECT_EQ(parse_ok("a=%4a%4A")[0].second, "JJ");
  EXPECT_EQ(parse_ok("a=%41")[0].second, "A");  // an escape that ends the body
}

TEST(Urlencoded, MalformedEscapesFail) {
  for (std::string_view body :
       {"a=%", "a=%4", "a=%G1", "a=%1G", "a=%%41", "%=1", "a=1&b=%zz", "a%2=1", "a=%4"}) {
    auto r = parse_urlencoded(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, "malformed_body") << body;
    EXPECT_EQ(r.error().kind, ErrorCode::kInvalidInput);
  }
}

TEST(SignupForm, MapsFields) {
  auto p = parse_ok(
      "email=a%40example.com&phone=%2B14155550100&sms_consent=on&first_name=Ann"
      "&postal_code=12345&source=signup-page&topics=news&topics=events&topics%5B%5D=sports&extra="
      "1");
  auto r = signup_from_form(p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->email, "a@example.com");
  EXPECT_EQ(r->phone, "+14155550100");
  EXPECT_TRUE(r->sms_consent);
  EXPECT_EQ(r->first_name, "Ann");
  EXPECT_EQ(r->postal_code, "12345");
  EXPECT_EQ(r->source, "signup-page");
  EXPECT_EQ(r->topics, (std::vector<std::string>{"news", "events", "sports"}));
}

TEST(SignupForm, AbsentFieldsStayAbsent) {
  auto r = signup_from_form(parse_ok("email=a%40example.com"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->phone.has_value());
  EXPECT_FALSE(r->first_name.has_value());
  EXPECT_FALSE(r->sms_consent);
  EXPECT_TRUE(r->topics.empty());
}

TEST(SignupForm, SmsConsentValues) {
  for (std::string v : {"on", "true", "1", "yes"}) {
    EXPECT_TRUE(signup_from_form({{"sms_consent", v}})->sms_consent) << v;
  }
  for (std::string v : {"", "off", "false", "0", "no", "ON ", "maybe"}) {
    EXPECT_FALSE(signup_from_form({{"sms_consent", v}})->sms_consent) << v;
  }
}

TEST(SignupForm, DuplicateScalarFieldsAreRefused) {
  for (std::string field :
       {"email", "phone", "sms_consent", "first_name", "postal_code", "source"}) {
    auto r = signup_from_form({{field, "a"}, {"topics", "x"}, {field, "b"}});
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error().code, "duplicate_field");
    EXPECT_EQ(r.error().field, field);
  }
  // Repeated unknown fields are ignored like any unknown field.
  EXPECT_TRUE(signup_from_form({{"utm", "a"}, {"utm", "b"}, {"email", "a@example.com"}}).ok());
}

Result<SignupRequest> json(std::string_view body) { return signup_from_json(body); }

void expect_json_error(std::string_view body, const std::string& code,
                       const std::string& field = {}) {
  auto r = json(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.error().code, code) << body;
  EXPECT_EQ(r.error().kind, ErrorCode::kInvalidInput) << body;
  if (!field.empty()) {
    EXPECT_EQ(r.error().field, field) << body;
  }
}

TEST(SignupForm, TheTrapFieldIsRead) {
  auto r = signup_from_form(parse_ok("email=a%40example.com&website=http%3A%2F%2Fx.example"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->honeypot, "http://x.example");
  auto empty = signup_from_form(parse_ok("email=a%40example.com&website="));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->honeypot, "");
  auto absent = signup_from_form(parse_ok("email=a%40example.com"));
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->honeypot.has_value());
}

TEST(SignupJson, TheTrapFieldIsReadWhateverItsType) {
  EXPECT_EQ(signup_from_json(R"({"email":"a@example.com","website":"x"})")->honeypot, "x");
  EXPECT_EQ(signup_from_json(R"({"email":"a@example.com","website":7})")->honeypot, "7");
  EXPECT_EQ(signup_from_json(R"({"website":{"a":[1]}})")->honeypot, R"({"a":[1]})");
  EXPECT_EQ(signup_from_json(R"({"website":false})")->honeypot, "false");
  EXPECT_FALSE(signup_from_json(R"({"website":null})")->honeypot.has_value());
}

TEST(SignupJson, MapsFields) {
  auto r = json(
      R"({"email":"a@example.com","phone":"+14155550100","sms_consent":true,"first_name":"Zo\u00eb",
                   "postal_code":"12345","topics":["news","events"],"source":"api","unknown":{"deep":[1,2]}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->email, "a@example.com");
  EXPECT_EQ(r->phone, "+14155550100");
  EXPECT_TRUE(r->sms_consent);
  EXPECT_EQ(r->first_name, "Zo\xc3\xab");
  EXPECT_EQ(r->postal_code, "12345");
  EXPECT_EQ(r->source, "api");
  EXPECT_EQ(r->topics, (std::vector<std::string>{"news", "events"}));
}

TEST(SignupJson, AFieldGivenTwiceIsRefused) {
  // A parser keeps one of the two silently; which one differs between parsers.
  expect_json_error(R"({"email":"a@example.com","email":"b@example.com"})", "duplicate_field",
                    "email");
  expect_json_error(R"({"topics":["a"],"email":"a@example.com","topics":["b"]})", "duplicate_field",
                    "topics");
  expect_json_error(R"({"email":"a@example.com","x":1,"x":2})", "duplicate_field");
  // Inside a field that is ignored anyway, and the same key in two objects, are fine.
  EXPECT_TRUE(json(R"({"email":"a@example.com","meta":{"k":1,"k":2}})").ok());
  EXPECT_TRUE(json(R"({"email":"a@example.com","meta":{"email":1}})").ok());
}

TEST(SignupJson, NullsAreAbsent) {
  auto r = json(
      R"({"email":"a@example.com","phone":null,"first_name":null,"topics":null,"sms_consent":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->phone.has_value());
  EXPECT_FALSE(r->first_name.has_value());
  EXPECT_TRUE(r->topics.empty());
  EXPECT_FALSE(r->sms_consent);
}

TEST(SignupJson, SmsConsentBoolOrString) {
  EXPECT_TRUE(json(R"({"sms_consent":true})")->sms_consent);
  EXPECT_FALSE(json(R"({"sms_consent":false})")->sms_consent);
  EXPECT_TRUE(json(R"({"sms_consent":"on"})")->sms_consent);
  EXPECT_TRUE(json(R"({"sms_consent":"true"})")->sms_consent);
  EXPECT_FALSE(json(R"({"sms_consent":"off"})")->sms_consent);
  EXPECT_FALSE(json(R"({"sms_consent":""})")->sms_consent);
  expect_json_error(R"({"sms_consent":1})", "invalid_sms_consent", "sms_consent");
  expect_json_error(R"({"sms_consent":[true]})", "invalid_sms_consent", "sms_consent");
  expect_json_error(R"({"sms_consent":{"v":true}})", "invalid_sms_consent", "sms_consent");
}

TEST(SignupJson, WrongTypesAreRefusedWithTheirField) {
  expect_json_error(R"({"email":["a@example.com"]})", "invalid_email", "email");
  expect_json_error(R"({"email":42})", "invalid_email", "email");
  expect_json_error(R"({"email":true})", "invalid_email", "email");
  expect_json_error(R"({"phone":4155550100})", "invalid_phone", "phone");
  expect_json_error(R"({"first_name":{"a":1}})", "invalid_first_name", "first_name");
  expect_json_error(R"({"postal_code":12345})", "invalid_postal_code", "postal_code");
  expect_json_error(R"({"source":1.5})", "invalid_source", "source");
  expect_json_error(R"({"topics":"news"})", "invalid_topics", "topics");
  expect_json_error(R"({"topics":["news",1]})", "invalid_topics", "topics");
  expect_json_error(R"({"topics":[["news"]]})", "invalid_topics", "topics");
}

TEST(SignupJson, NotAnObjectIsRefused) {
  for (std::string_view body :
       {"[]", "[{\"email\":\"a@example.com\"}]", "\"a@example.com\"", "42", "null", "true"}) {
    expect_json_error(body, "malformed_json");
  }
}

TEST(SignupJson, MalformedIsRefused) {
  for (std::string_view body : {"", "{", "{\"email\":}", "{\"email\":\"a\",}", "{'email':'a'}",
                                "{\"email\":\"a\"} x", "{\"email\":\"\\ud800\"}"}) {
    expect_json_error(body, "malformed_json");
  }
}

TEST(SignupJson, InvalidUtf8IsRefused) {
  expect_json_error("{\"email\":\"a\xff@example.com\"}", "malformed_json");
  expect_json_error("{\"first_name\":\"\xc0\xaf\"}", "malformed_json");
  expect_json_error("{\"first_name\":\"\xed\xa0\x80\"}", "malformed_json");  // encoded surrogate
}

TEST(SignupJson, DeepNestingIsRefusedEarly) {
  std::string deep = "{\"x\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  expect_json_error(deep, "malformed_json");
  std::string ok_depth = "{\"x\":[[[[[[1]]]]]],\"email\":\"a@example.com\"}";  // depth 7
  EXPECT_TRUE(json(ok_depth).ok());
  // Brackets inside strings do not count.
  auto r = json("{\"source\":\"[[[[[[[[[[[[[[[[[[[[\",\"email\":\"a@example.com\"}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->source, "[[[[[[[[[[[[[[[[[[[[");
  // Closing brackets first cannot buy extra depth.
  std::string tricky = "{\"a\":\"x\"}" + std::string(20, ']') + std::string(5000, '[');
  expect_json_error(tricky, "malformed_json");
}

}  // namespace
}  // namespace sc::detail

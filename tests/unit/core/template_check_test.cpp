#include "sc/core/template_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace sc {
namespace {

using ::testing::HasSubstr;

TemplateRules broadcast_rules() {
  TemplateRules r;
  r.variables = {"first_name", "org_name", "postal_address", "unsubscribe_url"};
  return r;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string nested(int depth, const std::string& inner = "x") {
  return repeat("{{#first_name}}", depth) + inner + repeat("{{/first_name}}", depth);
}

TEST(TemplateCheck, TemplatesAnOperatorWritesPass) {
  const auto rules = broadcast_rules();
  for (const std::string t : {
           "Hello {{first_name}}!",
           "Hello "
           "{{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}friend{{/first_name}}!",
           "{{ first_name }} {{{org_name}}} {{& postal_address}} {{! a note }}",
           "<a href=\"{{unsubscribe_url}}\">Unsubscribe</a>",
           "{{#first_name}}Hi {{.}}{{/first_name}}",
           "{{#has_first_name}}Hi {{first_name}}{{/has_first_name}}",
           "{{=<% %>=}}Hello <% first_name %>, {{ not a tag }}<%={{ }}=%> {{org_name}}",
           "no tags at all",
           "a lone } and {",
       }) {
    EXPECT_EQ(check_template(t, "text", rules), std::nullopt) << t;
  }
}

TEST(TemplateCheck, AMisspelledVariableIsNamedWithTheKnownOnes) {
  const auto rules = broadcast_rules();
  for (const std::string t :
       {"Hello {{firstname}}!", "{{#firstname}}x{{/firstname}}", "{{^firstname}}x{{/firstname}}",
        "{{{firstname}}}", "{{& firstname}}"}) {
    auto e = check_template(t, "subject", rules);
    ASSERT_TRUE(e) << t;
    EXPECT_EQ(e->code, "unknown_variable") << t;
    EXPECT_EQ(e->field, "subject");
    EXPECT_THAT(e->message, HasSubstr("{{firstname}}")) << t;
    EXPECT_THAT(e->message, HasSubstr("first_name, org_name, postal_address and unsubscribe_url"));
  }
  // "." is the section's value; outside any section there is none.
  EXPECT_EQ(check_template("{{.}}", "text", rules)->code, "unknown_variable");
  EXPECT_EQ(check_template("{{}}", "text", rules)->code, "unknown_variable");
  EXPECT_EQ(check_template("{{first_name.x}}", "text", rules)->code, "unknown_variable");
  // Without a list, any name goes (the renderer's own check of limits).
  EXPECT_EQ(check_template("{{firstname}}", "text", TemplateRules{}), std::nullopt);
}

TEST(TemplateCheck, DepthSectionsAndSizeAreBounded) {
  const auto rules = broadcast_rules();
  EXPECT_EQ(check_template(nested(kMaxTemplateDepth), "text", rules), std::nullopt);
  auto deep = check_template(nested(kMaxTemplateDepth + 1), "html", rules);
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->code, "template_too_deep");
  EXPECT_EQ(deep->field, "html");
  EXPECT_THAT(deep->message, HasSubstr(std::to_string(kMaxTemplateDepth) + " deep"));

  const auto flat = [](int n) { return repeat("{{#first_name}}a{{/first_name}}", n); };
  EXPECT_EQ(check_template(flat(kMaxTemplateSections), "text", rules), std::nullopt);
  auto many = check_template(flat(kMaxTemplateSections + 1), "text", rules);
  ASSERT_TRUE(many);
  EXPECT_EQ(many->code, "too_many_sections");
  EXPECT_THAT(many->message, HasSubstr(std::to_string(kMaxTemplateSections)));

  EXPECT_EQ(check_template(std::string(kMaxTemplateBytes, 'a'), "text", rules), std::nullopt);
  auto big = check_template(std::string(kMaxTemplateBytes + 1, 'a'), "text", rules);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->code, "too_long");
  EXPECT_THAT(big->message, HasSubstr(std::to_string(kMaxTemplateBytes) + " bytes"));

  // The limits are the caller's.
  TemplateRules tight = rules;
  tight.limits = {.max_bytes = 100, .max_depth = 1, .max_sections = 2};
  EXPECT_EQ(check_template(nested(2), "text", tight)->code, "template_too_deep");
  EXPECT_EQ(check_template(
                "{{#org_name}}{{/org_name}}{{^org_name}}{{/org_name}}{{#org_name}}{{/org_name}}",
                "text", tight)
                ->code,
            "too_many_sections");
  EXPECT_EQ(check_template(std::string(101, 'a'), "text", tight)->code, "too_long");
}

TEST(TemplateCheck, TheAttackIsRefusedInLinearTime) {
  // 63 KB of nested sections took about 250 MB to parse; the scan refuses
  // it at once, and a full 100 KB of it in well under a second.
  const std::string attack = nested(2100, "x");
  ASSERT_GT(attack.size(), 63'000u);
  EXPECT_EQ(check_template(attack, "text", broadcast_rules())->code, "template_too_deep");
  std::string worst;
  while (worst.size() + 30 < kMaxTemplateBytes) worst += "{{#first_name}}{{/first_name}}";
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) (void)check_template(worst, "text", broadcast_rules());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(TemplateCheck, BrokenSyntaxIsInvalidTemplate) {
  const auto rules = broadcast_rules();
  for (const std::string t : {
           "Hi {{first_name",
           "{{{first_name}}",
           "{{#first_name}}never closed",
           "{{/first_name}} closes nothing",
           "{{#first_name}}{{/org_name}}",
           "{{> footer}}",
           "{{=<% %>}}",
           "{{= = =}}",
       }) {
    auto e = check_template(t, "text", rules);
    ASSERT_TRUE(e) << t;
    EXPECT_EQ(e->code, "invalid_template") << t;
    EXPECT_EQ(e->field, "text");
    EXPECT_THAT(e->message, HasSubstr("text does not parse")) << t;
  }
  EXPECT_THAT(check_template("{{> footer}}", "text", rules)->message, HasSubstr("partial"));
}

TEST(TemplateCheck, AMessageStaysValidUtf8WhenItCutsALongName) {
  const std::string name = repeat("\xC3\xA9", 40);  // é × 40: 80 bytes
  auto e = check_template("{{" + name + "}}", "text", broadcast_rules());
  ASSERT_TRUE(e);
  const auto& m = e->message;
  EXPECT_THAT(m, HasSubstr(repeat("\xC3\xA9", 32) + "…"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr(repeat("\xC3\xA9", 33))));
}

}  // namespace
}  // namespace sc

#include "sc/core/sms_keywords.h"

#include <gtest/gtest.h>

#include <string>

namespace sc {
namespace {

TEST(SmsKeywords, WholeMessageKeywordsAnyCaseAndSpacing) {
  struct Case {
    const char* body;
    SmsKeyword want;
  };
  const Case cases[] = {
      {"STOP", SmsKeyword::kOptOut},
      {" stop ", SmsKeyword::kOptOut},
      {"Stop!", SmsKeyword::kOptOut},
      {"stopall", SmsKeyword::kOptOut},
      {"Stop  All", SmsKeyword::kOptOut},
      {"unsubscribe", SmsKeyword::kOptOut},
      {"CANCEL", SmsKeyword::kOptOut},
      {"end", SmsKeyword::kOptOut},
      {"Quit.", SmsKeyword::kOptOut},
      {"revoke", SmsKeyword::kOptOut},
      {"optout", SmsKeyword::kOptOut},
      {"opt out", SmsKeyword::kOptOut},
      {"Opt-Out", SmsKeyword::kOptOut},
      {"\tSTOP\r\n", SmsKeyword::kOptOut},
      {"YES", SmsKeyword::kOptIn},
      {"y", SmsKeyword::kOptIn},
      {"Yes.", SmsKeyword::kOptIn},
      {"start", SmsKeyword::kOptIn},
      {"UNSTOP", SmsKeyword::kOptIn},
      {"help", SmsKeyword::kHelp},
      {"Info", SmsKeyword::kHelp},
      // A stop word opening a longer message still stops (any reasonable means).
      {"Stop texting me", SmsKeyword::kOptOut},
      {"STOP, please", SmsKeyword::kOptOut},
      {"unsubscribe me now", SmsKeyword::kOptOut},
      // Not keywords.
      {"", SmsKeyword::kNone},
      {"   ", SmsKeyword::kNone},
      {"yes please", SmsKeyword::kNone},
      {"thanks", SmsKeyword::kNone},
      {"end of story", SmsKeyword::kNone},
      {"don't stop", SmsKeyword::kNone},
      {"helpful", SmsKeyword::kNone},
      {"STOPP", SmsKeyword::kNone},
      {"\xff\xfe", SmsKeyword::kNone},
  };
  for (const auto& c : cases)
    EXPECT_EQ(classify_sms_keyword(c.body), c.want) << "\"" << c.body << "\"";
}

TEST(SmsKeywords, TwilioOptOutType) {
  EXPECT_EQ(sms_keyword_from_opt_out_type("STOP"), SmsKeyword::kOptOut);
  EXPECT_EQ(sms_keyword_from_opt_out_type("START"), SmsKeyword::kOptIn);
  EXPECT_EQ(sms_keyword_from_opt_out_type("HELP"), SmsKeyword::kHelp);
  EXPECT_EQ(sms_keyword_from_opt_out_type("OTHER"), SmsKeyword::kNone);
}

}  // namespace
}  // namespace sc

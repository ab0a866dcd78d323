#include <gtest/gtest.h>

#include "sc/core/ports/services.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

TEST(RenderQueued, RendersATemplatedEmailAndDropsTheReference) {
  unit::RecordingComposer rc;
  OutboundEmail m;
  m.message_id = "x@example.org";
  m.template_name = "welcome";
  m.template_vars = {{"first_name", "Ann"}};
  render_queued(rc, m);
  ASSERT_EQ(rc.email_calls.size(), 1u);
  EXPECT_EQ(rc.email_calls[0].name, "welcome");
  EXPECT_EQ(rc.email_calls[0].vars.at("first_name"), "Ann");
  EXPECT_EQ(m.subject, "subject:welcome");
  EXPECT_NE(m.text.find("first_name=Ann"), std::string::npos);
  EXPECT_NE(m.html.find("first_name=Ann"), std::string::npos);
  EXPECT_TRUE(m.template_name.empty());
  EXPECT_TRUE(m.template_vars.empty());
  EXPECT_EQ(m.message_id, "x@example.org");
  // Rendering twice is a no-op.
  render_queued(rc, m);
  EXPECT_EQ(rc.email_calls.size(), 1u);
}

TEST(RenderQueued, LeavesAPreRenderedEmailAlone) {
  unit::RecordingComposer rc;
  OutboundEmail m;
  m.subject = "Hello";
  m.text = "body";
  render_queued(rc, m);
  EXPECT_TRUE(rc.email_calls.empty());
  EXPECT_EQ(m.subject, "Hello");
  EXPECT_EQ(m.text, "body");
}

TEST(RenderQueued, RendersATemplatedText) {
  unit::RecordingComposer rc;
  OutboundSms s;
  s.to = "+14155550100";
  s.template_name = "sms_confirm";
  render_queued(rc, s);
  ASSERT_EQ(rc.sms_calls.size(), 1u);
  EXPECT_EQ(s.body.rfind("sms:template=sms_confirm", 0), 0u);
  EXPECT_TRUE(s.template_name.empty());
  OutboundSms plain;
  plain.body = "as is";
  render_queued(rc, plain);
  EXPECT_EQ(plain.body, "as is");
  EXPECT_EQ(rc.sms_calls.size(), 1u);
}

}  // namespace
}  // namespace sc

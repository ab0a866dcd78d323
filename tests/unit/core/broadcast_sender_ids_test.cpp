// List-Id and Feedback-ID of broadcasts: domain rules, built in core so every
// front end (and the SQLite and in-memory wirings) names a list the same way.
#include <gtest/gtest.h>

#include "sc/core/broadcast.h"

namespace sc {
namespace {

TEST(BroadcastListId, OrgNameAndBroadcastsDotTheFromDomain) {
  EXPECT_EQ(broadcast_list_id("Friends of the Park", "news@mail.example.org"),
            "Friends of the Park <broadcasts.mail.example.org>");
  EXPECT_EQ(broadcast_list_id("Stay Connected", "no-reply@localhost"),
            "Stay Connected <broadcasts.localhost>");
}

TEST(BroadcastListId, TheDomainIsAfterTheLastAt) {
  EXPECT_EQ(broadcast_list_id("Org", "\"a@b\"@example.org"), "Org <broadcasts.example.org>");
}

TEST(BroadcastListId, CharactersThatWouldEndOrSplitThePhraseAreDropped) {
  EXPECT_EQ(broadcast_list_id("A <b> \"c\"\r\nd", "x@example.org"),
            "A b cd <broadcasts.example.org>");
  EXPECT_EQ(broadcast_list_id("Köln für alle", "x@example.org"),
            "Köln für alle <broadcasts.example.org>");  // UTF-8 stays (mime encodes it)
  EXPECT_EQ(broadcast_list_id("", "x@example.org"), " <broadcasts.example.org>");
}

TEST(BroadcastFeedbackId, TailNamesTheFromDomain) {
  EXPECT_EQ(broadcast_feedback_id_tail("news@mail.example.org"), ":stayconnected:mail.example.org");
  EXPECT_EQ(broadcast_feedback_id_tail("no-reply@localhost"), ":stayconnected:localhost");
}

}  // namespace
}  // namespace sc

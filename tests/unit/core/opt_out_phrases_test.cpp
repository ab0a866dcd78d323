#include "sc/core/opt_out_phrases.h"

#include <gtest/gtest.h>

#include <string>

#include "sc/core/inbound_text.h"
#include "sc/core/sms_keywords.h"

namespace sc {
namespace {

// Replies as people send them: case, punctuation, typos, emoji and three
// languages. Each must end up where the comment in the list says.
const char* const kOptOuts[] = {
    // English
    "please stop texting me",
    "take me off your list",
    "I want to unsubscribe",
    "no more texts",
    "remove me",
    "wrong number, stop",
    "Stop texting me",
    "STOP, please",
    "Please STOP!!!",
    "STOP STOP STOP",
    "ok stop now",
    "Unsubscribe me from this list",
    "Do not text me again.",
    "Don\xE2\x80\x99t message me anymore",  // typographic apostrophe
    "Leave me alone",
    "Lose my number",
    "Who is this? Stop",
    "Stop. Who gave you my number?",
    "I never signed up for this. Stop texting me",
    "cancel my subscription",
    "Can you please stop sending me these messages?",
    "How do I unsubscribe?",
    "how do i stop these texts??",
    "opt me out",
    "Opt-out please",
    "i dont want these texts anymore",
    "I no longer wish to receive messages from you",
    "STOP SENDING ME THIS CRAP",
    "quit texting me",
    "Enough with the texts!",
    "Please remove my number from your list",
    "delete my number",
    "stop pls",
    "stop it",
    "I said STOP",
    "I already told you to stop",
    "unsubscribe please thanks",
    "Why won't you stop texting me",
    "no more please",
    "get me off this list!!",
    "Not interested, remove me",
    "Stop contacting me at this number",
    "you have the wrong number",
    "i want out",
    "Please cancel these alerts",
    "count me out",
    "I revoke my consent",
    "stop txting me plz \xF0\x9F\x98\xA1",  // an emoji
    "  Stop   messaging\tme  ",
    "I can't unsubscribe, the link doesn't work. Remove me",
    "Can you take me off your list?",
    "Hey can u stop",
    "remove from list",
    "go away",
    "I'm done with these texts",
    // Spanish
    "no me manden m\xC3\xA1s mensajes",
    "darme de baja",
    "ya no quiero recibir mensajes",
    "basta",
    "BASTA YA",
    "Dejen de mandarme mensajes",
    "Quiero darme de baja",
    "por favor no me escriban m\xC3\xA1s",
    "S\xC3\xA1quenme de su lista",
    "No m\xC3\xA1s mensajes por favor",
    "Cancelar suscripci\xC3\xB3n",
    "N\xC3\xBAmero equivocado",
    "ALTO",
    "\xC2\xBFPueden dejar de enviarme mensajes?",
    "Bajenme de la lista",
    // French
    "Arr\xC3\xAAtez de m'envoyer des messages",
    "Je ne veux plus recevoir de SMS",
    "d\xC3\xA9sabonnez-moi",
    "STOP svp",
    "Retirez-moi de votre liste",
    "Mauvais num\xC3\xA9ro",
    "ARRET",
};

const char* const kNotOptOuts[] = {
    "don't stop texting me",
    "stop by the office tomorrow?",
    "I can't stop reading these",
    "please keep sending",
    "what time does the bus stop",
    "unstoppable",
    "Is STOP the only way to change my preferences, or can I use the website?",
    "What happens if I text STOP?",
    "If I reply STOP will I lose my points",
    "Thanks! Love these updates",
    "Where is the nearest stop for route 5",
    "Please don't unsubscribe me",
    "I didn't unsubscribe, why did the texts stop?",
    "Can't wait for the next one",
    "end of story",
    "Stop the car",
    "Don't stop now, keep them coming",
    "The bus didn't stop at my station today",
    "sigan enviando por favor",
    "no dejen de mandarme mensajes",
    "N'arr\xC3\xAAtez pas, j'adore",
    "Stop sign on Main St is down",
    "I stopped by yesterday",
    "yes please",
    "Can I change the time I get texts?",
    "Where's the shuttle stop?",
    "non-stop deals, love it",
    "Cancel my appointment tomorrow",
    "I want to keep getting texts",
    "Don't remove me from the list",
    "Never stop sending these, they're great",
    "Quit my job today lol",
    "no me den de baja",
    "Can you stop by at 5?",
    "How do I stop my card from being charged?",
    "I got your number from the list",
    "",
    "?!",
    "\xFF\xFE",
    // Long messages go to review, not to a guess.
    "Hi, I got your text about the sale on Saturday and I wanted to ask whether the store on Main "
    "Street will be open late because I work until six and I would like to stop in after work",
};

TEST(OptOutPhrases, RealWorldReplies) {
  for (const char* t : kOptOuts) EXPECT_TRUE(is_plain_language_opt_out(t)) << "\"" << t << "\"";
  for (const char* t : kNotOptOuts) EXPECT_FALSE(is_plain_language_opt_out(t)) << "\"" << t << "\"";
  // The issue asks for at least 40 opt-outs and 20 others.
  EXPECT_GE(std::size(kOptOuts), 40u);
  EXPECT_GE(std::size(kNotOptOuts), 20u);
}

TEST(OptOutPhrases, LongOrHostileInputIsNotAGuess) {
  EXPECT_FALSE(is_plain_language_opt_out(std::string(100000, 'a') + " stop texting me"));
  EXPECT_FALSE(is_plain_language_opt_out("stop texting me " + std::string(1000, '!')));
  std::string many;
  for (int i = 0; i < 31; ++i) many += "stop ";
  EXPECT_FALSE(is_plain_language_opt_out(many));  // 31 words: review, not a guess
  EXPECT_TRUE(is_plain_language_opt_out(many.substr(5)));
  EXPECT_FALSE(is_plain_language_opt_out(std::string(500, '\xff')));
}

TEST(OptOutPhrases, ClassifiedAsOptOutThroughTheKeywordReader) {
  for (const char* t : kOptOuts) {
    EXPECT_EQ(classify_sms_keyword(t), SmsKeyword::kOptOut) << "\"" << t << "\"";
  }
  for (const char* t : kNotOptOuts) {
    EXPECT_NE(classify_sms_keyword(t), SmsKeyword::kOptOut) << "\"" << t << "\"";
  }
}

TEST(OptOutPhrases, OptInAndHelpKeywordsNeverBecomeOptOuts) {
  for (const char* t : {"YES", "yes", "Y", "START", "start", "UNSTOP", "Unstop.", "HELP", "info"}) {
    EXPECT_NE(classify_sms_keyword(t), SmsKeyword::kOptOut) << t;
    EXPECT_NE(classify_exact_sms_keyword(t), SmsKeyword::kNone) << t;
  }
}

TEST(OptOutPhrases, InboundTextMarksPlainLanguage) {
  auto t = interpret_inbound_text({{"Body", "please stop texting me"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kOptOut);
  EXPECT_TRUE(t.plain_language);
  t = interpret_inbound_text({{"Body", "STOP"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kOptOut);
  EXPECT_FALSE(t.plain_language);
  t = interpret_inbound_text({{"Body", "please stop texting me"}, {"OptOutType", "STOP"}}, nullptr);
  EXPECT_FALSE(t.plain_language);  // Twilio classified it
  t = interpret_inbound_text({{"Body", "stop by the office?"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kNone);
  EXPECT_FALSE(t.plain_language);
}

}  // namespace
}  // namespace sc

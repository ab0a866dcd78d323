#include "sc/core/opt_out_phrases.h"

#include <regex>
#include <string>
#include <vector>

#include "sc/core/text.h"

namespace sc {
namespace {

constexpr std::size_t kMaxWords = 30;
// Thirty words of any real language fit; a longer "word" is not a reply, and
// std::regex's backtracking must never see a long input.
constexpr std::size_t kMaxBytes = 600;

// A clause: lower-case ASCII words separated by single spaces.
struct Clause {
  std::string words;
  bool ends_with_question = false;  // the clause itself ends with '?'
  bool in_question = false;         // its sentence ends with '?' (or opens with '¿')
};

// Latin-1 letters folded to ASCII ("más" -> "mas", "arrêtez" -> "arretez");
// 0 for anything else.
char fold_latin1(char32_t c) {
  if (c >= 0xC0 && c <= 0xC5) return 'a';
  if (c >= 0xE0 && c <= 0xE5) return 'a';
  if (c == 0xC7 || c == 0xE7) return 'c';
  if ((c >= 0xC8 && c <= 0xCB) || (c >= 0xE8 && c <= 0xEB)) return 'e';
  if ((c >= 0xCC && c <= 0xCF) || (c >= 0xEC && c <= 0xEF)) return 'i';
  if (c == 0xD1 || c == 0xF1) return 'n';
  if ((c >= 0xD2 && c <= 0xD6) || c == 0xD8 || (c >= 0xF2 && c <= 0xF6) || c == 0xF8) return 'o';
  if ((c >= 0xD9 && c <= 0xDC) || (c >= 0xF9 && c <= 0xFC)) return 'u';
  if (c == 0xDD || c == 0xFD || c == 0xFF) return 'y';
  return 0;
}

char32_t decode(std::string_view s, std::size_t i, std::size_t n) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  char32_t c = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  return c;
}

// Splits the text into sentences (. ! ? and line breaks) and clauses (, ; :),
// folds case and accents, drops apostrophes ("don't" -> "dont"), and turns
// every other character into a word break.
std::vector<Clause> clauses_of(std::string_view s, std::size_t& words) {
  std::vector<Clause> out;
  std::size_t sentence_start = 0;
  std::string cur;
  bool opened_question = false;  // '¿'
  auto end_clause = [&](bool question_mark) {
    while (!cur.empty() && cur.back() == ' ') cur.pop_back();
    if (!cur.empty()) {
      out.push_back({cur, question_mark, opened_question});
    }
    cur.clear();
  };
  auto end_sentence = [&](bool question_mark) {
    end_clause(question_mark);
    if (question_mark) {
      for (std::size_t k = sentence_start; k < out.size(); ++k) out[k].in_question = true;
    }
    sentence_start = out.size();
    opened_question = false;
  };
  auto put = [&](char c) {
    if (c == ' ') {
      if (!cur.empty() && cur.back() != ' ') cur += ' ';
      return;
    }
    if (cur.empty() || cur.back() == ' ') ++words;
    cur += c;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = text::utf8_sequence_length(s, i);
    const char32_t c = n == 0 ? 0xFFFD : decode(s, i, n);
    i += n == 0 ? 1 : n;
    if (c < 0x80) {
      const auto a = static_cast<char>(c);
      if (a >= 'A' && a <= 'Z') {
        put(static_cast<char>(a - 'A' + 'a'));
      } else if ((a >= 'a' && a <= 'z') || (a >= '0' && a <= '9')) {
        put(a);
      } else if (a == '\'' || a == '`') {
        // dropped: contractions stay one word
      } else if (a == '.' || a == '!' || a == '\n' || a == '\r') {
        end_sentence(false);
      } else if (a == '?') {
        end_sentence(true);
      } else if (a == ',' || a == ';' || a == ':') {
        end_clause(false);
      } else {
        put(' ');
      }
    } else if (c == 0x2018 || c == 0x2019 || c == 0x02BC || c == 0xB4) {
      // typographic apostrophes, dropped as above
    } else if (c >= 0x0300 && c <= 0x036F) {
      // combining accents (decomposed input): dropped with the accent
    } else if (c == 0xBF) {  // '¿'
      end_clause(false);
      opened_question = true;
    } else if (c == 0x2026) {  // '…'
      end_sentence(false);
    } else if (c == 0xDF) {
      put('s');
      put('s');
    } else if (c == 0xE6 || c == 0xC6) {
      put('a');
      put('e');
    } else if (c == 0x153 || c == 0x152) {
      put('o');
      put('e');
    } else if (char f = fold_latin1(c); f != 0) {
      put(f);
    } else {
      put(' ');  // emoji, other scripts, '¡'
    }
  }
  end_sentence(false);
  return out;
}

bool has(const std::string& s, const std::regex& re) { return std::regex_search(s, re); }

std::regex re(const char* pattern) {
  return std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
}

// Words that keep a bare keyword a request ("stop please", "ok stop now",
// "basta ya"): politeness, emphasis, pronouns for the messages.
const std::regex& fillers() {
  static const std::regex r =
      re("^(?:(?:please|pls|plz|plez|pleas|plse|now|right|thanks|thank|you|thx|ty|ok|okay|k|just|"
         "already|asap|immediately|again|sir|maam|hi|hello|hey|yo|lol|omg|seriously|god|dude|man|"
         "ffs|all|it|this|that|these|those|them|me|svp|sil|vous|plait|merci|por|favor|porfa|"
         "porfavor|gracias|ya|oh|no|sorry|dear|u) )*$");
  return r;
}

const std::regex& bare_keyword() {
  static const std::regex r =
      re("^(?:stop|stopall|unsubscribe|unsub|unsuscribe|unsubcribe|unsubscibe|cancel|quit|revoke|"
         "optout|remove|end|arret|arrete|arreter|arretez|alto|basta|baja|cancelar|desuscribir|"
         "desuscribirme|desabonner|desinscrire)$");
  return r;
}

// Every word is a keyword or a filler, and at least one is a keyword.
bool is_bare_keyword(const std::string& clause) {
  bool keyword = false;
  std::string rest;
  std::size_t start = 0;
  while (start <= clause.size()) {
    auto end = clause.find(' ', start);
    if (end == std::string::npos) end = clause.size();
    const auto word = clause.substr(start, end - start);
    if (std::regex_match(word, bare_keyword())) {
      keyword = true;
    } else {
      rest += word + ' ';
    }
    start = end + 1;
  }
  return keyword && std::regex_match(rest, fillers());
}

// Asks to keep receiving (or disputes an opt-out): the whole message is
// then not an opt-out, whatever else it says.
const std::regex& keep_receiving() {
  static const std::regex r = re(
      // English
      "\\b(?:dont|do not|never|didnt|did not|please dont|pls dont)(?: ever)? "
      "(?:stop|quit|end|cancel|unsubscribe|unsub|remove|delete|optout)\\b"
      "|\\bkeep (?:sending|texting|txting|messaging|them|em|these|those|the|me|getting|receiving|"
      "coming)\\b"
      "|\\b(?:still want|want to keep|want to stay|stay subscribed|remain subscribed|keep me "
      "subscribed)\\b"
      // Spanish
      "|\\b(?:sigan|siga|sigue|continuen|continue|continua) (?:enviando|mandando|escribiendo|"
      "enviandome|mandandome)\\b"
      "|\\bno (?:dejen|dejes|deje|paren|pares|pare) de\\b"
      "|\\bno (?:me )?(?:den|des|de|quiero darme|deseo darme|quiero dar|quiero) de baja\\b"
      "|\\bseguir recibiendo\\b"
      // French
      "|\\bnarret(?:e|ez|er)? pas\\b"
      "|\\b(?:continuez|continue|continuer) (?:a|de) (?:menvoyer|envoyer|mecrire)\\b"
      "|\\bne (?:me )?(?:desabonnez|desinscrivez) pas\\b");
  return r;
}

// "If I reply STOP, ...": a condition, not a request.
const std::regex& conditional() {
  static const std::regex r = re("^(?:if|when|what if|whether|what happens)\\b");
  return r;
}

// "stop" in another sense: a place, a visit, a thing.
const std::regex& stop_other_sense() {
  static const std::regex r =
      re("\\b(?:bus|train|tram|subway|metro|next|last|first|pit|truck|rest|full|one|non|whistle|"
         "shuttle|nearest|the|a|my|your|our|his|her) stop\\b"
         "|\\bstop (?:by|at|in|over|sign|signs|light|lights|on|there|here|for|and|to|watch|motion|"
         "gap|loss|limit|order|word|words|button|being|worrying|reading|laughing|thinking|"
         "smiling|crying|eating|playing|working|watching|listening)\\b");
  return r;
}

// A stop word said in the negative ("I can't stop", "it won't stop").
const std::regex& negated_stop() {
  static const std::regex r =
      re("\\b(?:cant|cannot|can not|couldnt|wont|will not|wouldnt|didnt|did not|doesnt|does not|"
         "dont|do not|never|not|shouldnt|isnt|aint)(?: \\w+)? (?:stop|quit|cease)\\b");
  return r;
}

// "Why won't you stop texting me": a complaint that asks to stop.
const std::regex& complaint() {
  static const std::regex r =
      re("\\b(?:wont|will not|dont|do not|cant|can not|cannot|why dont|why wont) "
         "(?:you|u|yall|you guys|they|you people)(?: just| ever)? (?:stop|quit)\\b");
  return r;
}

// Stop with what is to stop, or after "I said".
const std::regex& stop_request() {
  static const std::regex r =
      re("\\b(?:stop|quit|cease|discontinue|stahp)(?: \\w+)? (?:sending|send|texting|text|txting|"
         "txt|texts|txts|messaging|message|messages|msging|msg|msgs|sms|contacting|contact|calling|"
         "spamming|spam|bothering|harassing|emailing|notifications|alerts|promos|promotions|"
         "marketing|ads)\\b"
         "|\\b(?:stop|quit) (?:it|this|these|them|that|now|pls|please|plz|immediately|asap|all)\\b"
         "|\\b(?:said|say|saying|texted|replied|sent|wrote|typed|told you|told u)\\b.*"
         "\\b(?:stop|unsubscribe|unsub|optout|cancel|remove)\\b");
  return r;
}

// Requests without a stop word, or with a verb of their own.
const std::regex& other_request() {
  static const std::regex r = re(
      // English
      "\\b(?:unsubscribe|unsubscribed|unsubscribing|unsub|unsuscribe|unsubcribe|unsubscibe|"
      "optout|opt me out|opting out|revoke|revoking|deregister|unenroll|unregister)\\b"
      "|\\b(?:remove|delete|erase|drop|unlist|scratch) (?:me|us|my (?:number|phone|cell|info|"
      "details|name|contact|data)|this (?:number|phone))\\b"
      "|\\b(?:take|get|put|kick|cross|scratch) (?:me|us|my (?:number|name|phone)|this number) "
      "(?:off|out)\\b"
      "|\\b(?:remove|delete|take|get|drop) (?:\\w+ )?(?:off|from|out of) (?:(?:the|your|ur|this|"
      "that|these|yall|all|ya) )?(?:\\w+ )?(?:list|lists|database|system|contacts)\\b"
      "|^(?:off|out of) (?:the|your|ur|this|that) (?:\\w+ )?list\\b"
      "|\\bwant (?:off|out)\\b"
      "|^(?:go away|get lost|fuck off|f off|piss off|bugger off|back off)\\b"
      "|\\bdone with (?:the|these|your|ur|all|all these|all the|all your) (?:texts|messages|msgs|"
      "txts|spam)\\b"
      "|\\b(?:leave me alone|lose my number|forget my number|count me out)\\b"
      "|\\b(?:dont|do not|never|pls dont|please dont)(?: ever)? (?:text|txt|texting|txting|"
      "message|messaging|msg|contact|contacting|sms|call|calling|email|send|sending|bother|"
      "bothering|spam|spamming|harass|harassing)\\b"
      "|\\bno (?:more|mas|further) (?:texts?|messages?|msgs?|txts?|sms|spam|alerts|"
      "notifications|mensajes|textos|promos?|promotions|marketing|ads)\\b"
      "|^no (?:more|mas|further)(?: (?:please|pls|plz|por favor|gracias|thanks|thank you|thx))*$"
      "|\\b(?:dont|do not|no longer|never) (?:want|wish|need|like)(?: to (?:receive|get|be "
      "getting|be receiving|have))?(?: (?:any|these|those|the|this|your|ur|more|further|text|"
      "sms))* (?:texts?|messages?|msgs?|txts?|sms|alerts|notifications|spam|marketing|promos?|"
      "promotions|updates|them|these|this|it)\\b"
      "|\\bno longer (?:want|interested|wish to receive)\\b"
      "|\\b(?:cancel|end|terminate)(?: (?:my|the|this|these|all|your|ur|those|all the|all "
      "these))?(?: \\w+)? (?:subscription|subscriptions|texts|messages|msgs|alerts|sms|"
      "notifications|service|enrollment)\\b"
      "|\\benough (?:with )?(?:the |these |your |ur |of (?:the |these |your )?)?(?:texts|"
      "messages|msgs|spam|txts)\\b"
      "|\\bwrong (?:number|num|person|phone)\\b"
      // Spanish
      "|\\bno me (?:manden|mandes|mande|envien|envies|envie|escriban|escribas|escriba|contacten|"
      "contactes|contacte|llamen|llames|textees|texteen|molesten|molestes|moleste)\\b"
      "|\\bno (?:quiero|deseo|necesito) (?:recibir|mas|sus|tus|los|estos|esos|mensajes|textos|"
      "sms|notificaciones)\\b"
      "|\\bde baja\\b"
      "|\\b(?:deja|dejen|deje|dejes|dejar|para|paren|pare|parar|pares) de (?:enviar|mandar|"
      "escribir|enviarme|mandarme|escribirme|contactar|contactarme|molestar|molestarme|textear|"
      "textearme|llamar|llamarme)\\b"
      "|^(?:basta|alto)\\b"
      "|\\b(?:cancelar|cancela|cancelen|cancelo|cancele|anular|anulen)(?: (?:mi|la|las|los|su|"
      "sus|mis))? (?:suscripcion|subscripcion|mensajes|servicio|textos|sms|alertas)\\b"
      "|\\b(?:sacame|saquenme|sacarme|quitame|quitenme|quitarme|borrame|borrenme|borrarme|"
      "eliminame|eliminenme|eliminarme|bajame|bajenme|desuscribanme|desuscribeme|desuscribirme|"
      "desuscribir|desinscribirme)\\b"
      "|\\b(?:saquen|quiten|borren|eliminen|saca|quita|borra|elimina|sacar|quitar|borrar|"
      "eliminar) (?:mi numero|mi telefono|mi celular|me)\\b"
      "|\\b(?:numero equivocado|equivocado de numero|equivocaron de numero)\\b"
      // French
      "|^(?:arretez|arrete|arreter|arret|cessez|cesse)\\b"
      "|\\b(?:arretez|cessez) (?:de|d|les|denvoyer|menvoyer)\\b"
      "|\\b(?:desabonner|desabonnez|desabonne|desinscrire|desinscrivez|desinscris)\\b"
      "|\\bne (?:veux|veut|souhaite|desire|voudrais) plus\\b"
      "|^plus de (?:messages|sms|textos|texto)\\b"
      "|\\b(?:retirez|supprimez|enlevez|effacez|retire|supprime|enleve|efface) (?:moi|mon "
      "numero)\\b"
      "|\\bne (?:menvoyez|menvoie|menvoyer|mecrivez|mecris|me contactez|me contacte) plus\\b"
      "|\\bmauvais numero\\b");
  return r;
}

// A question that is itself a request: "can you stop…?", "how do I
// unsubscribe?", "¿pueden dejar de enviarme mensajes?" (also without the
// question mark).
const std::regex& question_request() {
  static const std::regex r =
      re("\\b(?:can|could|would|will|cant|wont) (?:you|u|yall|you guys)(?: please| pls| plz| just| "
         "kindly)? (?:stop|quit|remove|unsubscribe|unsub|take me off|take my number off|delete|"
         "cancel|leave me alone)\\b"
         "|\\bhow (?:do|can|would|should|to) (?:i |we )?(?:\\w+ )?(?:unsubscribe|unsub|optout)\\b"
         "|\\bhow (?:do|can|would|should|to) (?:i |we )?(?:\\w+ )?(?:stop|cancel|end)(?: (?:these|"
         "this|them|it|receiving|getting|the texts|the messages|texts|messages|msgs|all)\\b|$)"
         "|\\b(?:pueden|puede|podrian|podria|puedes) (?:dejar de|darme de baja|sacarme|quitarme|"
         "borrarme|eliminarme)\\b"
         "|\\bcomo (?:me doy|darme|puedo darme|me puedo dar|me dan) de baja\\b");
  return r;
}

bool clause_opts_out(const Clause& c) {
  if (!c.ends_with_question && is_bare_keyword(c.words)) return true;
  const auto& w = c.words;
  if (has(w, conditional())) return false;
  const bool stop_in_sense = !has(w, stop_other_sense());
  const bool complains = stop_in_sense && has(w, complaint());
  const bool asks = stop_in_sense && has(w, question_request());
  if (c.in_question) return complains || asks;
  if (complains || asks) return true;
  if (stop_in_sense && !has(w, negated_stop()) && has(w, stop_request())) return true;
  return has(w, other_request());
}

}  // namespace

bool is_plain_language_opt_out(std::string_view text) {
  if (text.size() > kMaxBytes) return false;
  std::size_t words = 0;
  auto clauses = clauses_of(text, words);
  if (words == 0 || words > kMaxWords) return false;
  for (auto& c : clauses) {
    // One spelling for the two-word keyword.
    static const std::regex opt_out = re("\\bopt out\\b");
    c.words = std::regex_replace(c.words, opt_out, "optout");
    if (has(c.words, keep_receiving())) return false;
  }
  for (const auto& c : clauses) {
    if (clause_opts_out(c)) return true;
  }
  return false;
}

}  // namespace sc

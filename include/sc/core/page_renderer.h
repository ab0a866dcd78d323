// PageRenderer: the port the HTTP layer renders its answers through: HTML
// pages (title included) and TwiML replies to inbound texts. Templates live
// in templates/ (render implements it).
#pragma once
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace sc {

using Vars = std::map<std::string, std::string>;

class PageRenderer {
 public:
  virtual ~PageRenderer() = default;
  // pages/<name>.html.mustache with its title from pages/<name>.title.mustache.
  virtual std::string page(std::string_view name, const Vars& vars,
                           const std::set<std::string>& flags = {}) const = 0;
  // A TwiML <Response>: the text sms/<reply_template> as its one <Message>,
  // or no message at all when reply_template is empty.
  virtual std::string twiml_reply(std::string_view reply_template, const Vars& vars) const = 0;
};

}  // namespace sc

// Renderer: Mustache templates from templates/ (compiled in) for pages,
// emails and texts. {{x}} is HTML-escaped in .html templates; text templates
// render values as they are (names are validated before they get here).
// An empty value is false in a section. Each template is parsed once per
// Renderer and that one parse serves every thread: rendering only reads it
// (values are strings and flags; no lambdas, and no partials are left once
// they are pasted in).
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/page_renderer.h"
#include "sc/core/ports/services.h"

namespace kainjow::mustache {
template <typename StringType>
class basic_data;
using data = basic_data<std::string>;
template <typename StringType>
class basic_mustache;
using mustache = basic_mustache<std::string>;
}  // namespace kainjow::mustache

namespace sc {

class Renderer final : public Composer, public PageRenderer {
 public:
  // common: values every template may use (org_name, postal_address, …).
  // templates_dir: when non-empty, files there override the compiled-in ones.
  explicit Renderer(Vars common, std::string templates_dir = {});

  // Throws std::out_of_range for an unknown template (a programming error).
  // A page's title comes from pages/<name>.title.mustache (unless vars has one).
  std::string page(std::string_view name, const Vars& vars,
                   const std::set<std::string>& flags = {}) const override;
  std::string twiml_reply(std::string_view reply_template, const Vars& vars) const override;
  std::string text(std::string_view path, const Vars& vars) const;
  ComposedEmail email(std::string_view template_name, const Vars& vars) const override;
  std::string sms(std::string_view template_name, const Vars& vars) const override;
  std::string inline_error(std::string_view source) const override;
  // Parsed once (within check_template's limits, else std::runtime_error),
  // not cached: its owner keeps it as long as it needs it.
  std::shared_ptr<const InlineTemplate> prepare_inline(std::string_view source,
                                                       bool html) const override;
  bool has(std::string_view path) const;

 private:
  class ParsedInline;
  kainjow::mustache::mustache& parsed(const std::string& path, bool html) const;
  std::string source(std::string_view path) const;
  std::string expanded(std::string src, bool html) const;
  kainjow::mustache::data data(const Vars& vars, const std::set<std::string>& flags) const;
  std::string render(std::string_view path, const kainjow::mustache::data& d, bool html) const;
  std::string render(std::string_view path, const Vars& vars, const std::set<std::string>& flags,
                     bool html) const;
  Vars common_;
  std::map<std::string, std::string> files_;
  mutable std::mutex mu_;
  // One per template file at most.
  mutable std::map<std::string, std::shared_ptr<kainjow::mustache::mustache>> parsed_;
  std::vector<std::pair<std::string, std::string>> html_partials_, text_partials_;
};

}  // namespace sc

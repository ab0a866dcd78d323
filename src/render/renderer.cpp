#include "sc/render/renderer.h"

#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "sc/assets/embedded.h"
#include "sc/core/template_check.h"
#include "sc/core/text.h"

namespace sc {

namespace mstch = kainjow::mustache;

Renderer::Renderer(Vars common, std::string templates_dir) : common_(std::move(common)) {
  for (const auto& [path, bytes] : embedded::files()) {
    if (path.rfind("templates/", 0) == 0) files_[path.substr(10)] = std::string(bytes);
  }
  if (!templates_dir.empty()) {
    namespace fs = std::filesystem;
    for (const auto& e : fs::recursive_directory_iterator(templates_dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      files_[fs::relative(e.path(), templates_dir).generic_string()] = ss.str();
    }
  }
  // Partials: {{> name}} is partials/<name>.html.mustache in HTML templates
  // and partials/<name>.txt.mustache in text ones.
  for (const auto& [p, src] : files_) {
    if (p.rfind("partials/", 0) != 0) continue;
    auto file = p.substr(9);
    for (auto [ext, out] : {std::pair{std::string(".html.mustache"), &html_partials_},
                            std::pair{std::string(".txt.mustache"), &text_partials_}}) {
      if (file.size() > ext.size() &&
          file.compare(file.size() - ext.size(), ext.size(), ext) == 0) {
        out->emplace_back(file.substr(0, file.size() - ext.size()), src);
      }
    }
  }
}

// Partials are pasted into the template text before it is parsed, once:
// the library would otherwise parse a partial's text on every render.
std::string Renderer::expanded(std::string src, bool html) const {
  const auto& partials = html ? html_partials_ : text_partials_;
  for (int depth = 0; depth < 4; ++depth) {
    bool changed = false;
    std::size_t pos = 0;
    while ((pos = src.find("{{>", pos)) != std::string::npos) {
      auto end = src.find("}}", pos);
      if (end == std::string::npos) break;
      auto name = std::string(text::trim(std::string_view(src).substr(pos + 3, end - pos - 3)));
      std::string body;
      for (const auto& [n, b] : partials) {
        if (n == name) body = b;
      }
      src.replace(pos, end + 2 - pos, body);
      pos += body.size();
      changed = true;
    }
    if (!changed) break;
  }
  return src;
}

bool Renderer::has(std::string_view path) const { return files_.count(std::string(path)) != 0; }

std::string Renderer::source(std::string_view path) const {
  auto it = files_.find(std::string(path));
  if (it == files_.end()) throw std::out_of_range("no template " + std::string(path));
  return it->second;
}

namespace {

// What a parsed template holds per byte of source, about: the library keeps
// one 136-byte node per whitespace character and per run of text, in
// vectors that grow by doubling (178 bytes a byte measured for "a a a …"),
// and each section a copy of its inner text (at most kMaxTemplateDepth
// copies of a byte).
constexpr std::size_t kParsedBytesPerByte = 192;

std::unique_ptr<mstch::mustache> parse(const std::string& src, bool html) {
  auto tmpl = std::make_unique<mstch::mustache>(src);
  if (tmpl->is_valid() && !html) tmpl->set_custom_escape([](const std::string& s) { return s; });
  return tmpl;
}

mstch::data flag(bool on) {
  return mstch::data(on ? mstch::data::type::bool_true : mstch::data::type::bool_false);
}

}  // namespace

mstch::mustache& Renderer::parsed(const std::string& path, bool html) const {
  std::lock_guard lk(mu_);
  auto it = parsed_.find(path);
  if (it != parsed_.end()) return *it->second;
  std::shared_ptr<mstch::mustache> tmpl = parse(expanded(source(path), html), html);
  if (!tmpl->is_valid())
    throw std::runtime_error("template " + path + ": " + tmpl->error_message());
  return *parsed_.emplace(path, std::move(tmpl)).first->second;
}

class Renderer::ParsedInline final : public InlineTemplate {
 public:
  ParsedInline(const Renderer& renderer, std::string_view source, bool html)
      : renderer_(renderer), bytes_(source.size() * kParsedBytesPerByte) {
    // The limits first: the parser's memory grows with size times depth.
    if (auto e = check_template(source, "template", TemplateRules{}))
      throw std::runtime_error(e->message);
    tmpl_ = parse(std::string(source), html);
    if (!tmpl_->is_valid()) throw std::runtime_error(tmpl_->error_message());
  }
  std::string render(const Vars& vars) const override {
    return tmpl_->render(renderer_.data(vars, {}));
  }
  std::size_t memory_bytes() const override { return bytes_; }

 private:
  const Renderer& renderer_;
  std::unique_ptr<mstch::mustache> tmpl_;
  std::size_t bytes_;
};

// One data object serves every template of a message (subject, text, HTML).
kainjow::mustache::data Renderer::data(const Vars& vars, const std::set<std::string>& flags) const {
  mstch::data d{mstch::data::type::object};
  for (const auto* set : {&common_, &vars}) {
    for (const auto& [k, v] : *set) {
      // An empty string would be true in a section ({{^first_name}}friend
      // would never show): it is false, and renders as nothing. Templates
      // written before that use the has_<name> flags.
      if (v.empty()) {
        d.set(k, flag(false));
      } else {
        d.set(k, v);
      }
      d.set("has_" + k, flag(!v.empty()));
    }
  }
  for (const auto& f : flags) d.set(f, flag(true));
  return d;
}

std::string Renderer::render(std::string_view path, const kainjow::mustache::data& d,
                             bool html) const {
  return parsed(std::string(path), html).render(d);
}

std::string Renderer::render(std::string_view path, const Vars& vars,
                             const std::set<std::string>& flags, bool html) const {
  return render(path, data(vars, flags), html);
}

std::string Renderer::page(std::string_view name, const Vars& vars,
                           const std::set<std::string>& flags) const {
  const std::string base = "pages/" + std::string(name);
  if (vars.count("title") != 0 || !has(base + ".title.mustache")) {
    return render(base + ".html.mustache", vars, flags, true);
  }
  Vars with_title = vars;
  with_title.emplace("title", text::trim(render(base + ".title.mustache", vars, flags, false)));
  return render(base + ".html.mustache", with_title, flags, true);
}

std::string Renderer::twiml_reply(std::string_view reply_template, const Vars& vars) const {
  const std::string message = reply_template.empty() ? std::string() : sms(reply_template, vars);
  // XML-escaped like HTML; the file's closing newline is not part of the answer.
  return std::string(
      text::trim(render("twiml/reply.xml.mustache", Vars{{"message", message}}, {}, true)));
}

std::string Renderer::text(std::string_view path, const Vars& vars) const {
  return render(path, vars, {}, false);
}

ComposedEmail Renderer::email(std::string_view name, const Vars& vars) const {
  const std::string base = "email/" + std::string(name);
  const auto d = data(vars, {});
  ComposedEmail m;
  m.subject =
      std::string(text::trim(text::strip_crlf(render(base + ".subject.mustache", d, false))));
  m.text = render(base + ".txt.mustache", d, false);
  m.html = render(base + ".html.mustache", d, true);
  return m;
}

std::shared_ptr<const InlineTemplate> Renderer::prepare_inline(std::string_view source,
                                                               bool html) const {
  return std::make_shared<ParsedInline>(*this, source, html);
}

std::string Renderer::inline_error(std::string_view source) const {
  if (auto e = check_template(source, "template", TemplateRules{})) return e->message;
  mstch::mustache tmpl{std::string(source)};
  return tmpl.is_valid() ? std::string() : tmpl.error_message();
}

std::string Renderer::sms(std::string_view name, const Vars& vars) const {
  return std::string(
      text::trim(render("sms/" + std::string(name) + ".txt.mustache", vars, {}, false)));
}

}  // namespace sc

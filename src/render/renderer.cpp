#include "sc/render/renderer.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "sc/assets/embedded.h"
#include "sc/core/text.h"

namespace sc {

namespace mstch = kainjow::mustache;

namespace {
std::atomic<std::uint64_t> next_renderer_id{1};
}  // namespace

Renderer::Renderer(Vars common, std::string templates_dir)
    : common_(std::move(common)), id_(next_renderer_id.fetch_add(1)) {
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
  // Partials: {{> name}} is partials/name.html.mustache in HTML templates
  // and partials/name.txt.mustache in text ones.
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

// Parsed templates, per thread (a parsed template is not shared between
// threads) and per renderer instance. The source is read, its partials
// pasted in and the result parsed only on a thread's first use.
template <typename MakeSource>
mstch::mustache& parsed(std::uint64_t renderer, std::string_view path, bool html,
                        MakeSource make_source) {
  thread_local std::map<std::pair<std::uint64_t, std::string>, std::unique_ptr<mstch::mustache>,
                        std::less<>>
      cache;
  auto key = std::pair<std::uint64_t, std::string>{renderer, std::string(path)};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto tmpl = std::make_unique<mstch::mustache>(make_source());
  if (!tmpl->is_valid())
    throw std::runtime_error("template " + key.second + ": " + tmpl->error_message());
  if (!html) tmpl->set_custom_escape([](const std::string& s) { return s; });
  return *cache.emplace(std::move(key), std::move(tmpl)).first->second;
}

mstch::data flag(bool on) {
  return mstch::data(on ? mstch::data::type::bool_true : mstch::data::type::bool_false);
}

}  // namespace

// One data object serves every template of a message (subject, text, HTML).
kainjow::mustache::data Renderer::data(const Vars& vars, const std::set<std::string>& flags) const {
  mstch::data d{mstch::data::type::object};
  for (const auto* set : {&common_, &vars}) {
    for (const auto& [k, v] : *set) {
      d.set(k, v);
      // Empty strings are truthy in Mustache; give every var a has_<name> flag.
      d.set("has_" + k, flag(!v.empty()));
    }
  }
  for (const auto& f : flags) d.set(f, flag(true));
  return d;
}

std::string Renderer::render(std::string_view path, const kainjow::mustache::data& d,
                             bool html) const {
  auto& tmpl = parsed(id_, path, html, [&] { return expanded(source(path), html); });
  return tmpl.render(d);
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

std::string Renderer::inline_template(std::string_view source, const Vars& vars, bool html) const {
  // Keyed by the source itself: a broadcast's text is parsed once per thread.
  auto& tmpl = parsed(id_, "inline:" + std::string(html ? "h:" : "t:") + std::string(source), html,
                      [&] { return std::string(source); });
  return tmpl.render(data(vars, {}));
}

std::string Renderer::inline_error(std::string_view source) const {
  mstch::mustache tmpl{std::string(source)};
  return tmpl.is_valid() ? std::string() : tmpl.error_message();
}

std::string Renderer::sms(std::string_view name, const Vars& vars) const {
  return std::string(
      text::trim(render("sms/" + std::string(name) + ".txt.mustache", vars, {}, false)));
}

}  // namespace sc

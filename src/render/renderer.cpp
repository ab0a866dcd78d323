#include "sc/render/renderer.h"

#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <sstream>
#include <stdexcept>

#include "sc/core/text.h"
#include "sc/render/embedded.h"

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
}

bool Renderer::has(std::string_view path) const { return files_.count(std::string(path)) != 0; }

std::string Renderer::source(std::string_view path) const {
  auto it = files_.find(std::string(path));
  if (it == files_.end()) throw std::out_of_range("no template " + std::string(path));
  return it->second;
}

std::string Renderer::render(std::string_view path, const Vars& vars, const std::set<std::string>& flags,
                             bool html) const {
  mstch::mustache tmpl(source(path));
  if (!tmpl.is_valid()) throw std::runtime_error("template " + std::string(path) + ": " + tmpl.error_message());
  if (!html) tmpl.set_custom_escape([](const std::string& s) { return s; });
  mstch::data d{mstch::data::type::object};
  for (const auto& [k, v] : common_) d.set(k, v);
  for (const auto& [k, v] : vars) d.set(k, v);
  // Empty strings are truthy in Mustache; give every var a has_<name> flag.
  for (const auto& [k, v] : common_) d.set("has_" + k, mstch::data(!v.empty() ? mstch::data::type::bool_true : mstch::data::type::bool_false));
  for (const auto& [k, v] : vars) d.set("has_" + k, mstch::data(!v.empty() ? mstch::data::type::bool_true : mstch::data::type::bool_false));
  for (const auto& f : flags) d.set(f, mstch::data(mstch::data::type::bool_true));
  // Partials: {{> name}} resolves to partials/name.html or partials/name.txt.
  const std::string ext = html ? ".html" : ".txt";
  for (const auto& [p, src] : files_) {
    if (p.rfind("partials/", 0) == 0 && p.size() > ext.size() + 9 &&
        p.compare(p.size() - ext.size() - 9, ext.size() + 9, ext + ".mustache") == 0) {
      auto name = p.substr(9, p.size() - 9 - ext.size() - 9);
      std::string body = src;
      d.set(name, mstch::partial([body] { return body; }));
    }
  }
  return tmpl.render(d);
}

std::string Renderer::page(std::string_view name, const Vars& vars, const std::set<std::string>& flags) const {
  return render("pages/" + std::string(name) + ".html.mustache", vars, flags, true);
}

std::string Renderer::text(std::string_view path, const Vars& vars) const {
  return render(path, vars, {}, false);
}

ComposedEmail Renderer::email(std::string_view name, const Vars& vars) const {
  const std::string base = "email/" + std::string(name);
  ComposedEmail m;
  m.subject = std::string(text::trim(text::strip_crlf(render(base + ".subject.mustache", vars, {}, false))));
  m.text = render(base + ".txt.mustache", vars, {}, false);
  m.html = render(base + ".html.mustache", vars, {}, true);
  return m;
}

std::string Renderer::sms(std::string_view name, const Vars& vars) const {
  return std::string(text::trim(render("sms/" + std::string(name) + ".txt.mustache", vars, {}, false)));
}

}  // namespace sc

#include "sc/core/ports.h"

#include <stdexcept>

namespace sc {

void render_queued(const Composer& composer, OutboundEmail& m) {
  if (m.template_name.empty()) return;
  auto c = composer.email(m.template_name, m.template_vars);
  m.subject = std::move(c.subject);
  m.text = std::move(c.text);
  m.html = std::move(c.html);
  m.template_name.clear();
  m.template_vars.clear();
}

void render_queued(const Composer& composer, OutboundSms& m) {
  if (m.template_name.empty()) return;
  m.body = composer.sms(m.template_name, m.template_vars);
  m.template_name.clear();
  m.template_vars.clear();
}

std::string Composer::inline_template(std::string_view, const std::map<std::string, std::string>&,
                                      bool) const {
  throw std::runtime_error("this composer renders no inline templates");
}

std::string Composer::inline_error(std::string_view) const {
  return "this composer renders no inline templates";
}

namespace {

class SourceTemplate final : public InlineTemplate {
 public:
  SourceTemplate(const Composer& composer, std::string_view source, bool html)
      : composer_(composer), source_(source), html_(html) {}
  std::string render(const std::map<std::string, std::string>& vars) const override {
    return composer_.inline_template(source_, vars, html_);
  }
  std::size_t memory_bytes() const override { return source_.size(); }

 private:
  const Composer& composer_;
  std::string source_;
  bool html_;
};

}  // namespace

std::shared_ptr<const InlineTemplate> Composer::prepare_inline(std::string_view source,
                                                               bool html) const {
  if (auto e = inline_error(source); !e.empty()) throw std::runtime_error(e);
  return std::make_shared<SourceTemplate>(*this, source, html);
}

}  // namespace sc

#include "sc/core/ports/services.h"

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

}  // namespace sc

// `stayconnected send-test-email ADDRESS`: one message through the configured
// email provider, and the provider's answer as it came.
#include <cstdio>

#include "sc/app/commands.h"
#include "sc/app/wiring.h"
#include "sc/core/email.h"
#include "sc/core/ports/services.h"

namespace sc {

int cmd_send_test_email(Config config, const std::string& address) {
  Wiring w(std::move(config));
  auto to = Email::parse(address);
  if (!to) {
    std::fprintf(stderr, "stayconnected: %s\n", to.error().message.c_str());
    return 2;
  }
  Channel ch;
  ch.kind = ChannelKind::kEmail;
  ch.address = to->str();
  auto msg = w.service->build_email(ch, {}, w.clock.now_unix());
  msg.template_name = "test";
  msg.template_vars = {{"unsubscribe_url", msg.list_unsubscribe_url}};
  render_queued(*w.renderer, msg);
  auto r = w.email->send(msg);
  std::printf("provider: %s\nresult: %s\ncode: %s\nmessage-id: %s\nanswer: %s\n",
              w.email->name().c_str(), to_string(r.status), r.provider_code.c_str(),
              r.provider_message_id.c_str(), r.provider_message.c_str());
  return r.status == SendStatus::kSent ? 0 : 1;
}

}  // namespace sc

// Ports: the interfaces core declares and the outer modules implement.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/message.h"
#include "sc/core/model.h"
#include "sc/core/result.h"

namespace sc {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_unix() const = 0;  // seconds since epoch, UTC
  // Milliseconds since epoch, for rates and deadlines finer than a second.
  virtual std::int64_t now_ms() const { return now_unix() * 1000; }
};

// A keyed MAC (HMAC-SHA256 in production). verify is constant-time.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual std::string sign(std::string_view data) const = 0;
  virtual bool verify(std::string_view data, std::string_view mac) const = 0;
};

// Parses a phone number as a person typed it into E.164 (libphonenumber).
class PhoneNormalizer {
 public:
  virtual ~PhoneNormalizer() = default;
  // Fails with field "phone" for numbers that are invalid, not mobile-capable
  // or in a country the deployment does not text.
  virtual Result<std::string> normalize(std::string_view raw) const = 0;
};

struct ComposedEmail {
  std::string subject;
  std::string text;
  std::string html;
};

// An operator-written template, parsed once to render many times, from any
// thread. It must not outlive the Composer that prepared it.
class InlineTemplate {
 public:
  virtual ~InlineTemplate() = default;
  virtual std::string render(const std::map<std::string, std::string>& vars) const = 0;
  // About the memory the parsed form holds, for bounding a cache of them.
  virtual std::size_t memory_bytes() const = 0;
};

// Renders message templates; vars are plain strings, escaped by the renderer.
// An empty value counts as false in a section: {{#x}}…{{/x}} is left out
// and {{^x}}…{{/x}} shown.
class Composer {
 public:
  virtual ~Composer() = default;
  virtual ComposedEmail email(std::string_view template_name,
                              const std::map<std::string, std::string>& vars) const = 0;
  virtual std::string sms(std::string_view template_name,
                          const std::map<std::string, std::string>& vars) const = 0;
  // An operator-written template (a broadcast's text), parsed once to render
  // many times; HTML-escapes the values when html. Throws std::runtime_error
  // when it does not parse; inline_error() tells that beforehand ("" when it
  // parses).
  virtual std::shared_ptr<const InlineTemplate> prepare_inline(std::string_view source,
                                                               bool html) const = 0;
  virtual std::string inline_error(std::string_view source) const = 0;
  // prepare_inline's template rendered once with vars.
  std::string inline_template(std::string_view source,
                              const std::map<std::string, std::string>& vars, bool html) const {
    return prepare_inline(source, html)->render(vars);
  }
};

// Fills subject/text/html (or the SMS body) of a message queued with a
// template reference, then drops the reference; no-op for rendered ones.
void render_queued(const Composer& composer, OutboundEmail& m);
void render_queued(const Composer& composer, OutboundSms& m);
}  // namespace sc

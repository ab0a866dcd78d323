#include <malloc.h>

#include "sc/app/app.h"

int main(int argc, char** argv) {
  // glibc gives each new thread its own malloc arena (up to 8 per core);
  // with a thread per connection and short-lived dispatcher stages that
  // retained memory dominates RSS. Four arenas keep contention low enough.
  mallopt(M_ARENA_MAX, 4);
  return sc::run_cli(argc, argv);
}

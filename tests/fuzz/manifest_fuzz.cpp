// berth.toml from a stranger (a deployed tarball): parsing either gives a manifest or a coded
// error with a message, never a crash, a hang or an exception.
#include "config/manifest.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = berth::parse_manifest(text, "berth.toml");
  if (!m) FUZZ_CHECK(!m.error().message.empty());
  return 0;
}

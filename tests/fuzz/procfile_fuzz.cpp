// A Procfile: `type: command` entries with `web` first, or bad_manifest; never a crash.
#include "config/infer.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = berth::parse_procfile(text, "Procfile");
  if (!entries) {
    FUZZ_CHECK(entries.error().code == berth::Code::kBadManifest);
    return 0;
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    FUZZ_CHECK(!(*entries)[i].type.empty() && !(*entries)[i].command.empty());
    FUZZ_CHECK((*entries)[i].type != "web" || i == 0);
  }
  return 0;
}

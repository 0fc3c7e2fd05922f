// An env file: pairs whose names a shell could export, or bad_env_file; never a crash.
#include "config/env_file.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto pairs = berth::parse_env_file(text, ".env");
  if (!pairs) {
    FUZZ_CHECK(pairs.error().code == berth::Code::kBadEnvFile);
    return 0;
  }
  for (const auto& [name, value] : *pairs) {
    FUZZ_CHECK(berth::valid_env_name(name));
    FUZZ_CHECK(value.find('\0') == std::string::npos);
  }
  return 0;
}

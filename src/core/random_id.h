// Random identifiers and secrets from the kernel's CSPRNG.
#pragma once
#include <string>

namespace berth {

// `bytes` random bytes rendered as lowercase hex (2*bytes characters).
std::string random_hex(size_t bytes);

}  // namespace berth

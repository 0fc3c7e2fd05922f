// Parses human byte sizes in config and API bodies: "512MiB", "10GiB", "1.5G", or a bare number of
// bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace berth {

// Units B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB, all powers of 1024.
Result<uint64_t> parse_byte_size(std::string_view text);

}  // namespace berth

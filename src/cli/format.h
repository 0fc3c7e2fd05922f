// Human formatting for the CLI: tables, byte sizes, uptimes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace berth::cli {

std::string human_bytes(uint64_t b);   // 12.3 MiB
std::string human_uptime(int64_t ms);  // 3s, 5m, 2h, 4d
// Left-aligned columns separated by two spaces.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace berth::cli

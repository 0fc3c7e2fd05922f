// Human formatting for the CLI: tables, byte sizes, uptimes, and error reports.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "http/client.h"

namespace berth::cli {

std::string human_bytes(uint64_t b);   // 12.3 MiB
std::string human_uptime(int64_t ms);  // 3s, 5m, 2h, 4d
// Left-aligned columns separated by two spaces.
std::string table(const std::vector<std::vector<std::string>>& rows);

// Prints "berth: MESSAGE" to stderr; returns 1.
int report(const Error& e);
// Prints a server error ("message (code)") and returns 1; returns 0 on 2xx.
int check(const http::ClientResponse& r);

}  // namespace berth::cli

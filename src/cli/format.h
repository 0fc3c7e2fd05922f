// Human formatting for the CLI: tables, byte sizes, uptimes, and error reports.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "http/client.h"

namespace berth::cli {

std::string human_bytes(uint64_t b);   // 12.3 MiB
std::string human_uptime(int64_t ms);  // 3s, 5m, 2h, 4d
// Left-aligned columns separated by two spaces (colour codes take no width).
std::string table(const std::vector<std::vector<std::string>>& rows);
// A component state coloured for a terminal: green ready, yellow on its way, red when down.
std::string colored_state(const std::string& state, const std::string& text);

// A component's state as shown: "backoff (120ms)" with the time left.
std::string state_cell(const nlohmann::json& c);
// The `ls` table (NAME STATE PID UPTIME RESTARTS CPU MEMORY) of GET /v1/components' list.
std::string components_table(const nlohmann::json& components, bool color);

// Errors go to stderr as "berth: MESSAGE (code)", or, with `json` (a command's --json), as one
// line {"error": {"code", "message"}} (the API's shape), so stdout holds only the answer.

// Sends a request and parses its JSON answer. On failure (no daemon, a non-2xx answer) the
// error is printed and the exit code to return comes back instead.
std::expected<nlohmann::json, int> fetch_json(
    http::Client& client, const std::string& method, const std::string& target,
    const std::string& body = "", std::chrono::milliseconds timeout = std::chrono::seconds(60),
    bool json = false);
// A 2xx answer's JSON object; else the error is printed and the exit code comes back.
std::expected<nlohmann::json, int> answer_json(const http::ClientResponse& r, bool json = false);
// Prints the error to stderr; returns 1.
int report(const Error& e, bool json = false);
// Prints a server error and returns 1; returns 0 on 2xx.
int check(const http::ClientResponse& r, bool json = false);

}  // namespace berth::cli

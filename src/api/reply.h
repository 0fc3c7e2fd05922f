// Small pieces every resource answers with: JSON replies, the 404/410 of a missing component,
// and the query parameters and Last-Event-ID the routes share.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/backend.h"
#include "http/message.h"

namespace berth::api {

// Process output is arbitrary bytes: invalid UTF-8 becomes U+FFFD instead of an exception.
std::string compact(const nlohmann::json& j);
http::Response ok(const nlohmann::json& j, int status = 200);
// 410 component_destroyed for a destroyed name (no side effect, nothing comes back), else 404.
http::Response missing(const Backend& b, const std::string& name);
// A non-negative integer query parameter; `fallback` when absent, nullopt when malformed.
std::optional<uint64_t> query_number(const http::Request& req, const std::string& key,
                                     uint64_t fallback);
// Where an event stream resumes: after the Last-Event-ID the client sent, else from the start;
// nullopt when it is not a non-negative integer that fits in `max` (a negative one used to
// skip the backlog and an overflowing one to replay everything).
std::optional<uint64_t> resume_after(const http::Request& req, uint64_t max = UINT64_MAX);
http::Response bad_event_id();
// A component's status with its live release (deployed components only).
ComponentStatus status_of(Backend& b, const ComponentApi& c);
// GET /v1/components: {"components": [every component's status]}.
nlohmann::json components_body(Backend& b);

}  // namespace berth::api

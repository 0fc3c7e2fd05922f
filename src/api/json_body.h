// Request bodies read strictly: a JSON object holding only the keys a route knows, each of the
// kind it expects, and no NUL inside any string (a NUL used to cut "/tmp\u0000/x" to "/tmp").
// A body that is not so is a 400 `bad_request` naming the key and what was expected, so a
// typo (`{"dir": 1}` to rollback) is refused instead of ignored.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace berth::api {

enum class Kind {
  kString,
  kBool,
  kStringArray,
  kSize /* unsigned integer or "2GiB" */,
  kStringMap
};

// `fields`: the keys allowed and their kinds; an empty body is `{}` when `empty_ok`.
Result<nlohmann::json> read_body(const std::string& body, const std::map<std::string, Kind>& fields,
                                 bool empty_ok);

// Whether some string inside `j` (keys included) holds a NUL byte.
bool has_nul(const nlohmann::json& j);

}  // namespace berth::api

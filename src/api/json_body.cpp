#include "api/json_body.h"

#include <fmt/format.h>

#include <algorithm>

namespace berth::api {
using json = nlohmann::json;

namespace {

const char* describe(Kind k) {
  switch (k) {
    case Kind::kString:
      return "a string";
    case Kind::kBool:
      return "true or false";
    case Kind::kStringArray:
      return "an array of strings";
    case Kind::kSize:
      return "a size in bytes or like \"2GiB\"";
    case Kind::kStringMap:
      return "an object of strings";
  }
  return "";
}

bool is(const json& v, Kind k) {
  switch (k) {
    case Kind::kString:
      return v.is_string();
    case Kind::kBool:
      return v.is_boolean();
    case Kind::kStringArray:
      return v.is_array() && std::all_of(v.begin(), v.end(), [](auto& e) { return e.is_string(); });
    case Kind::kSize:
      return v.is_number_unsigned() || v.is_string();
    case Kind::kStringMap:
      return v.is_object() &&
             std::all_of(v.begin(), v.end(), [](auto& e) { return e.is_string(); });
  }
  return false;
}

std::string expected(const std::map<std::string, Kind>& fields) {
  std::string out;
  for (auto& [k, kind] : fields)
    out += fmt::format("{}\"{}\": {}", out.empty() ? "" : ", ", k, describe(kind));
  return "{" + out + "}";
}

}  // namespace

bool has_nul(const json& j) {
  if (j.is_string()) return j.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (k.find('\0') != std::string::npos || has_nul(v)) return true;
  if (j.is_array())
    for (auto& v : j)
      if (has_nul(v)) return true;
  return false;
}

Result<json> read_body(const std::string& body, const std::map<std::string, Kind>& fields,
                       bool empty_ok) {
  if (body.empty() && empty_ok) return json::object();
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Code::kBadRequest, "expected a JSON object " + expected(fields));
  if (has_nul(j)) return fail(Code::kBadRequest, "a string in the body contains a NUL byte");
  for (auto& [key, value] : j.items()) {
    auto f = fields.find(key);
    if (f == fields.end())
      return fail(Code::kBadRequest,
                  fmt::format("unknown key \"{}\" (expected {})", key, expected(fields)));
    if (!is(value, f->second))
      return fail(Code::kBadRequest, fmt::format("\"{}\" must be {}", key, describe(f->second)));
  }
  return j;
}

}  // namespace berth::api

#include "core/error.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <ostream>

namespace berth {
namespace {

struct CodeInfo {
  std::string_view wire;
  int status;
};

constexpr std::array kCodes = {
#define BERTH_CODE_INFO(name, wire, status) CodeInfo{wire, status},
    BERTH_ERROR_CODES(BERTH_CODE_INFO)
#undef BERTH_CODE_INFO
};

}  // namespace

std::string_view wire(Code c) {
  return kCodes[static_cast<size_t>(c)].wire;
}

int http_status(Code c) {
  return kCodes[static_cast<size_t>(c)].status;
}

std::optional<Code> code_from_wire(std::string_view s) {
  for (size_t i = 0; i < kCodes.size(); ++i)
    if (kCodes[i].wire == s) return static_cast<Code>(i);
  return std::nullopt;
}

void to_json(nlohmann::json& j, Code c) {
  j = std::string(wire(c));
}

std::ostream& operator<<(std::ostream& os, Code c) {
  return os << wire(c);
}

std::string errno_message(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

Code io_code(int err, Code otherwise) {
  return err == ENOSPC || err == EDQUOT ? Code::kDiskFull : otherwise;
}

}  // namespace berth

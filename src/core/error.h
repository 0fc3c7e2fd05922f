// Errors are values: a stable machine-readable code plus a message for people.
// Result<T> carries either a value or an Error; nothing in berth throws across modules.
#pragma once
#include <expected>
#include <string>
#include <utility>

namespace berth {

struct Error {
  std::string code;     // stable snake_case identifier, part of the API contract
  std::string message;  // human explanation; may change between versions
};

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string code, std::string message) {
  return std::unexpected(Error{std::move(code), std::move(message)});
}

// errno rendered as "what: strerror(errno)".
std::string errno_message(const std::string& what, int err);

}  // namespace berth

// Errors are values: a stable machine-readable code plus a message for people.
// Result<T> carries either a value or an Error; nothing in berth throws across modules.
// The codes are one closed enum (core/error_codes.h gives each its wire string and HTTP
// status); control flow compares enumerators, never strings.
#pragma once
#include <expected>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error_codes.h"

namespace berth {

enum class Code {
#define BERTH_CODE_ENUM(name, wire, status) name,
  BERTH_ERROR_CODES(BERTH_CODE_ENUM)
#undef BERTH_CODE_ENUM
};

// "not_found": the code as the API, the store and the CLI spell it.
std::string_view wire(Code c);
// The HTTP status an API answer with this code carries.
int http_status(Code c);
// The code a wire string names; nullopt for a string berth does not know.
std::optional<Code> code_from_wire(std::string_view s);
// JSON and logs show the wire string.
void to_json(nlohmann::json& j, Code c);
std::ostream& operator<<(std::ostream& os, Code c);

struct Error {
  Code code = Code::kInternal;
  std::string message;  // human explanation; may change between versions
};

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Code code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

// errno rendered as "what: strerror(errno)".
std::string errno_message(const std::string& what, int err);
// What a failed write, fsync or create reports: disk_full for ENOSPC or EDQUOT (the operator
// must free space, a retry alone will not do), else `otherwise`.
Code io_code(int err, Code otherwise);

}  // namespace berth

// Propagates a failed Result in one line: `BERTH_TRY(store.put(row));` or, for a Result held
// in a variable, `BERTH_TRY(rows);`. BERTH_CO_TRY is the same for coroutines.
#define BERTH_TRY(expr)                                                               \
  do {                                                                                \
    if (auto&& berth_try_ = (expr); !berth_try_)                                      \
      return std::unexpected(std::forward<decltype(berth_try_)>(berth_try_).error()); \
  } while (0)
#define BERTH_CO_TRY(expr)                                \
  do {                                                    \
    if (auto&& berth_try_ = (expr); !berth_try_) {        \
      ::berth::Error berth_error_ = berth_try_.error();   \
      co_return std::unexpected(std::move(berth_error_)); \
    }                                                     \
  } while (0)

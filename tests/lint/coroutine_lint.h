// Finds the coroutine shapes GCC 12 miscompiles, so they cannot be written again: inside the
// full-expression of a `co_await`, (1) a conditional operator (`c ? a : co_await b` destroys
// the chosen operand's temporary twice) and (2) a lambda that captures by copy (its closure is
// destroyed twice). Both were reproduced on GCC 12.2 with a type that counts its instances
// (`auto r = flag ? plain() : co_await f();` leaves the count at -1); the fix is always to name
// the value in a statement of its own first.
// A token-level scan, not a parser: comments and literals are skipped, lambda bodies inside
// the expression are their own functions and are not searched.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace berth::lint {

struct Finding {
  int line = 0;         // 1-based line of the co_await
  std::string what;     // "conditional operator" or "lambda capturing by copy: [x]"
  std::string excerpt;  // the full-expression, whitespace collapsed
};

std::vector<Finding> coroutine_hazards(std::string_view source);

}  // namespace berth::lint

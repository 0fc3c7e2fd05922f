// Every user-supplied pattern (readiness markers, watch and packing globs, anything later) is a
// Pattern: RE2 underneath, so matching is linear in the input and memory is bounded whatever the
// pattern; a pattern RE2 cannot compile, or one too large, is an Error, never a crash.
// Immutable once compiled; safe to share between threads.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace re2 {
class RE2;
}

namespace berth {

class Pattern {
 public:
  static constexpr size_t kMaxLength = 4096;  // bytes of pattern text
  // kUtf8: the pattern and the input are UTF-8 (`.` is one character; invalid bytes in the
  // input match nothing but themselves). kBytes: both are bytes (paths need not be UTF-8).
  enum class Encoding { kUtf8, kBytes };

  // RE2 syntax (https://github.com/google/re2/wiki/Syntax). Error code `bad_pattern`.
  static Result<Pattern> regex(std::string_view text, Encoding enc = Encoding::kUtf8);
  // Matches `text` literally.
  static Result<Pattern> literal(std::string_view text);
  // A gitignore-style glob over '/'-separated relative paths, as bytes: `*` and `?` stay within
  // one path segment, `[...]` is a class (`[!...]` negates), `\x` is x; `**/` at the start and
  // `/**/` inside match zero or more directories, a trailing `/**` everything below. Match it
  // with full_match.
  static Result<Pattern> glob(std::string_view glob);
  // The RE2 expression a glob becomes (exposed for tests and error messages).
  static std::string glob_to_regex(std::string_view glob);

  // True when the pattern matches somewhere in `s` / all of `s`. Linear in s.size().
  bool search(std::string_view s) const;
  bool full_match(std::string_view s) const;
  const std::string& text() const;

 private:
  explicit Pattern(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  static Result<Pattern> compile(std::string_view text, bool literal, Encoding enc);
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace berth

#include "core/pattern.h"

#include <re2/re2.h>

#include <cctype>

namespace berth {

// The DFA caches of one pattern stay under this budget; past it RE2 falls back to its NFA,
// still linear. A program larger than the budget does not compile (`(a{1000}){1000}`, say).
constexpr int64_t kMaxMemory = 4 << 20;

Result<Pattern> Pattern::compile(std::string_view text, bool literal, Encoding enc) {
  if (text.size() > kMaxLength)
    return fail(Code::kBadPattern, "the pattern is " + std::to_string(text.size()) +
                                       " bytes long; the limit is " + std::to_string(kMaxLength));
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaxMemory);
  o.set_literal(literal);
  o.set_encoding(enc == Encoding::kBytes ? RE2::Options::EncodingLatin1
                                         : RE2::Options::EncodingUTF8);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(text.data(), text.size()), o);
  if (!re->ok())
    return fail(Code::kBadPattern, "not a valid RE2 regular expression: " + re->error());
  return Pattern(std::move(re));
}

Result<Pattern> Pattern::regex(std::string_view text, Encoding enc) {
  return compile(text, false, enc);
}

Result<Pattern> Pattern::literal(std::string_view text) {
  return compile(text, true, Encoding::kBytes);
}

Result<Pattern> Pattern::glob(std::string_view glob) {
  if (glob.size() > kMaxLength)
    return fail(Code::kBadPattern, "the glob is " + std::to_string(glob.size()) +
                                       " bytes long; the limit is " + std::to_string(kMaxLength));
  auto p = compile(glob_to_regex(glob), false, Encoding::kBytes);
  if (!p) return fail(Code::kBadPattern, "not a valid glob: " + p.error().message);
  return p;
}

namespace {

void append_literal(std::string& out, unsigned char c) {
  if (std::isalnum(c) || c == '_' || c == '/') {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x80) {
    out.push_back('\\');
    out.push_back(static_cast<char>(c));
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x{";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
    out.push_back('}');
  }
}

// The class starting at glob[i] == '[' into `out`; the index after its ']', or npos when the
// bracket is not closed (then it is a literal '[').
size_t append_class(std::string& out, std::string_view glob, size_t i) {
  size_t j = i + 1;
  const bool negate = j < glob.size() && (glob[j] == '!' || glob[j] == '^');
  if (negate) ++j;
  size_t first = j;
  if (j < glob.size() && glob[j] == ']') ++j;  // a leading ']' is a member
  for (; j < glob.size() && glob[j] != ']'; ++j)
    if (glob.substr(j, 2) == "[:") {  // [:alpha:] and friends pass through whole
      size_t end = glob.find(":]", j + 2);
      if (end == std::string_view::npos) return std::string_view::npos;
      j = end + 1;
    }
  if (j >= glob.size()) return std::string_view::npos;
  out += negate ? "[^/" : "[";
  for (size_t k = first; k < j; ++k) {
    unsigned char c = static_cast<unsigned char>(glob[k]);
    if (glob.substr(k, 2) == "[:") {
      size_t end = glob.find(":]", k + 2) + 2;
      out.append(glob.substr(k, end - k));
      k = end - 1;
    } else if (c == '-' && k != first && k + 1 < j) {
      out.push_back('-');  // a range
    } else {
      append_literal(out, c);
    }
  }
  out.push_back(']');
  return j + 1;
}

}  // namespace

std::string Pattern::glob_to_regex(std::string_view g) {
  std::string out;
  for (size_t i = 0; i < g.size();) {
    const char c = g[i];
    if (c == '*' && g.substr(i, 2) == "**" && (i == 0 || g[i - 1] == '/') &&
        (i + 2 == g.size() || g[i + 2] == '/')) {
      if (i + 2 == g.size()) {
        out += ".*";  // "dir/**": everything below
        i += 2;
      } else {
        out += "(?:.*/)?";  // "**/x", "a/**/x": zero or more directories
        i += 3;
      }
    } else if (c == '*') {
      while (i < g.size() && g[i] == '*') ++i;  // other runs of stars are one star
      out += "[^/]*";
    } else if (c == '?') {
      out += "[^/]";
      ++i;
    } else if (c == '[') {
      size_t next = append_class(out, g, i);
      if (next == std::string_view::npos) {
        append_literal(out, '[');
        ++i;
      } else {
        i = next;
      }
    } else if (c == '\\' && i + 1 < g.size()) {
      append_literal(out, static_cast<unsigned char>(g[i + 1]));
      i += 2;
    } else {
      append_literal(out, static_cast<unsigned char>(c));
      ++i;
    }
  }
  return out;
}

bool Pattern::search(std::string_view s) const {
  return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re_);
}

bool Pattern::full_match(std::string_view s) const {
  return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *re_);
}

const std::string& Pattern::text() const {
  return re_->pattern();
}

}  // namespace berth

#include "lint/coroutine_lint.h"

#include <cctype>
#include <cstring>
#include <optional>

namespace berth::lint {
namespace {

struct Token {
  std::string text;
  int line;
};

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Identifiers, numbers and punctuation; comments, string and character literals and
// preprocessor lines are dropped (a `?` or a `[` inside them is not code).
std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  int line = 1;
  bool line_start = true;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '\n') {
      ++line;
      line_start = true;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (line_start && c == '#') {  // a directive, with its continuation lines
      while (i < s.size() && s[i] != '\n') {
        if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\n') {
          ++line;
          ++i;
        }
        ++i;
      }
      continue;
    }
    line_start = false;
    if (s.substr(i, 2) == "//") {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (s.substr(i, 2) == "/*") {
      size_t end = s.find("*/", i + 2);
      end = end == std::string_view::npos ? s.size() : end + 2;
      for (; i < end; ++i) line += s[i] == '\n';
      continue;
    }
    if (ident_start(c)) {
      size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      std::string_view word = s.substr(i, j - i);
      // A raw string: R"delim( ... )delim", with any encoding prefix.
      if (j < s.size() && s[j] == '"' && word.back() == 'R') {
        size_t open = s.find('(', j);
        std::string close = ")" + std::string(s.substr(j + 1, open - j - 1)) + "\"";
        size_t end = s.find(close, open);
        end = end == std::string_view::npos ? s.size() : end + close.size();
        for (; i < end; ++i) line += s[i] == '\n';
        continue;
      }
      if (j < s.size() && (s[j] == '"' || s[j] == '\'')) {  // u8"..", L'x': the literal follows
        i = j;
        continue;
      }
      out.push_back({std::string(word), line});
      i = j;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {  // digit separators (1'000) included
      size_t j = i;
      while (j < s.size() && (ident_char(s[j]) || s[j] == '.' || s[j] == '\'' ||
                              ((s[j] == '+' || s[j] == '-') && std::strchr("eEpP", s[j - 1]))))
        ++j;
      out.push_back({std::string(s.substr(i, j - i)), line});
      i = j;
      continue;
    }
    if (c == '"' || c == '\'') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != c && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
      i = j + 1;
      continue;
    }
    static constexpr std::string_view kPairs[] = {"->", "::", "&&", "||", "[["};
    size_t len = 1;
    for (auto p : kPairs)
      if (s.substr(i, 2) == p) len = 2;
    out.push_back({std::string(s.substr(i, len)), line});
    i += len;
  }
  return out;
}

bool is_open(const std::string& t) {
  return t == "(" || t == "[" || t == "{";
}
bool is_close(const std::string& t) {
  return t == ")" || t == "]" || t == "}";
}
bool is_word(const std::string& t) {
  return !t.empty() && ident_char(t[0]);
}

// Index of the token closing the bracket opened at `i`.
size_t matching(const std::vector<Token>& t, size_t i) {
  int depth = 0;
  for (size_t j = i; j < t.size(); ++j) {
    if (is_open(t[j].text)) ++depth;
    if (is_close(t[j].text) && --depth == 0) return j;
  }
  return t.size();
}

// The full-expression around the co_await at `at`: [first, last).
std::pair<size_t, size_t> full_expression(const std::vector<Token>& t, size_t at) {
  size_t first = at;
  for (int depth = 0; first > 0; --first) {
    const std::string& p = t[first - 1].text;
    if (depth == 0 && p == ";") break;
    if (is_close(p)) {
      // A block that ends a previous statement, not a braced value inside this expression.
      if (depth == 0 && p == "}" && (is_word(t[first].text) || t[first].text == "{")) break;
      ++depth;
    } else if (is_open(p)) {
      if (depth == 0 && p == "{") break;
      if (depth > 0) --depth;  // an unmatched ( or [ : the expression goes on outside it
    }
  }
  size_t last = at;
  for (int depth = 0; last < t.size(); ++last) {
    const std::string& p = t[last].text;
    if (depth == 0 && p == ";") break;
    if (is_open(p)) ++depth;
    if (is_close(p) && depth-- == 0) break;
  }
  return {first, last};
}

struct Lambda {
  size_t intro, captures_end, body_end;
};

// A lambda whose introducer `[` is at `i`, if it is one (not a subscript or an attribute).
std::optional<Lambda> lambda_at(const std::vector<Token>& t, size_t i) {
  if (t[i].text != "[" || i == 0) return std::nullopt;
  const std::string& prev = t[i - 1].text;
  const bool keyword = prev == "co_await" || prev == "co_return" || prev == "return";
  if ((is_word(prev) && !keyword) || prev == ")" || prev == "]") return std::nullopt;
  size_t close = matching(t, i), j = close + 1;
  if (j < t.size() && t[j].text == "(") j = matching(t, j) + 1;
  while (j < t.size() && t[j].text != "{" && t[j].text != ";" && t[j].text != ")") ++j;
  if (j >= t.size() || t[j].text != "{") return std::nullopt;
  return Lambda{i, close, matching(t, j)};
}

// The captures of t[intro+1, end) that copy: anything but `&`, `&x`, `&x = e` and `this`.
std::string copy_captures(const std::vector<Token>& t, size_t intro, size_t end) {
  std::string copies;
  for (size_t j = intro + 1; j < end;) {
    size_t k = j;
    for (int depth = 0; k < end && (depth > 0 || t[k].text != ","); ++k) {
      if (is_open(t[k].text)) ++depth;
      if (is_close(t[k].text)) --depth;
    }
    const bool by_ref = t[j].text == "&" || t[j].text == "this";
    if (!by_ref) {
      std::string cap;
      for (size_t m = j; m < k; ++m) cap += t[m].text;
      copies += (copies.empty() ? "" : ", ") + cap;
    }
    j = k + 1;
  }
  return copies;
}

}  // namespace

std::vector<Finding> coroutine_hazards(std::string_view source) {
  const auto t = tokenize(source);
  std::vector<Finding> out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].text != "co_await") continue;
    auto [first, last] = full_expression(t, i);
    std::string excerpt;
    for (size_t j = first; j < last && excerpt.size() < 160; ++j)
      excerpt += (excerpt.empty() ? "" : " ") + t[j].text;
    for (size_t j = first; j < last; ++j) {
      if (t[j].text == "?") out.push_back({t[i].line, "conditional operator", excerpt});
      if (auto l = lambda_at(t, j)) {
        if (auto copies = copy_captures(t, l->intro, l->captures_end); !copies.empty())
          out.push_back({t[i].line, "lambda capturing by copy: [" + copies + "]", excerpt});
        j = l->body_end;  // the body is a function of its own
      }
    }
  }
  return out;
}

}  // namespace berth::lint

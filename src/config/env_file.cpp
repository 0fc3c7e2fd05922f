#include "config/env_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace berth {
namespace {

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& origin) : s_(text), origin_(origin) {}

  Result<std::vector<std::pair<std::string, std::string>>> run() {
    std::vector<std::pair<std::string, std::string>> out;
    if (s_.find('\0') != std::string_view::npos)
      return fail(Code::kBadEnvFile, origin_ + " contains a NUL byte");
    while (i_ < s_.size()) {
      skip_blanks();
      if (at_line_end()) {
        next_line();
        continue;
      }
      if (s_[i_] == '#') {
        skip_to_line_end();
        next_line();
        continue;
      }
      const size_t line = line_;
      std::string_view rest = s_.substr(i_);
      if (rest.starts_with("export ") || rest.starts_with("export\t")) {
        i_ += 7;
        skip_blanks();
      }
      size_t name_start = i_;
      while (i_ < s_.size() && s_[i_] != '=' && s_[i_] != '\n' && !blank(s_[i_])) ++i_;
      std::string name(s_.substr(name_start, i_ - name_start));
      skip_blanks();
      if (name.empty()) return error(line, "expected KEY=VALUE");
      if (i_ >= s_.size() || s_[i_] != '=')
        return error(line, "expected KEY=VALUE (no '=' after \"" + name + "\")");
      if (!valid_env_name(name))
        return error(line,
                     "\"" + name + "\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
      ++i_;  // '='
      skip_blanks();
      auto value = read_value(line);
      BERTH_TRY(value);
      out.emplace_back(std::move(name), std::move(*value));
      next_line();
    }
    return out;
  }

 private:
  Result<std::string> read_value(size_t line) {
    if (i_ < s_.size() && (s_[i_] == '\'' || s_[i_] == '"')) {
      const char q = s_[i_++];
      std::string v;
      for (;;) {
        if (i_ >= s_.size()) return error(line, fmt::format("unterminated {} quote", q));
        char c = s_[i_++];
        if (c == '\n') ++line_;
        if (c == q) break;
        if (q == '"' && c == '\\' && i_ < s_.size()) {
          char e = s_[i_++];
          switch (e) {
            case 'n':
              v += '\n';
              break;
            case 'r':
              v += '\r';
              break;
            case 't':
              v += '\t';
              break;
            case '"':
            case '\\':
            case '$':
              v += e;
              break;
            default:
              v += '\\';
              v += e;
          }
          continue;
        }
        v += c;
      }
      skip_blanks();
      if (!at_line_end() && s_[i_] != '#')
        return error(line_, "unexpected text after the closing quote");
      skip_to_line_end();
      return v;
    }
    size_t start = i_;
    size_t end = i_;
    while (i_ < s_.size() && s_[i_] != '\n') {
      // " #" starts a comment; "a#b" is a value.
      if (s_[i_] == '#' && i_ > start && blank(s_[i_ - 1])) break;
      if (!blank(s_[i_])) end = i_ + 1;
      ++i_;
    }
    skip_to_line_end();
    return std::string(s_.substr(start, end - start));
  }

  void skip_blanks() {
    while (i_ < s_.size() && blank(s_[i_])) ++i_;
  }
  bool at_line_end() const { return i_ >= s_.size() || s_[i_] == '\n'; }
  void skip_to_line_end() {
    while (i_ < s_.size() && s_[i_] != '\n') ++i_;
  }
  void next_line() {
    if (i_ < s_.size() && s_[i_] == '\n') {
      ++i_;
      ++line_;
    }
  }
  std::unexpected<Error> error(size_t line, const std::string& why) const {
    return fail(Code::kBadEnvFile, fmt::format("{}:{}: {}", origin_, line, why));
  }

  std::string_view s_;
  const std::string& origin_;
  size_t i_ = 0, line_ = 1;
};

}  // namespace

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

Result<std::vector<std::pair<std::string, std::string>>> parse_env_file(std::string_view text,
                                                                        const std::string& origin) {
  return Parser(text, origin).run();
}

}  // namespace berth

// Env files (`.env`, `[run] env_file`): the KEY=VALUE syntax of dotenv and docker compose,
// parsed into ordered pairs. Pure functions, any thread.
//
// Accepted: blank lines and `#` comments; an optional `export ` prefix; `KEY=value` with
// spaces around `=` ignored; an unquoted value ends at ` #` (a comment) and loses trailing
// blanks; 'single quotes' keep everything literally; "double quotes" understand \n \r \t \"
// \\ and \$; either quote may span lines (a PEM key). Nothing is expanded: `$HOME` stays
// `$HOME`, so a value never depends on the daemon's own environment.
// Refused, with the file and line (code `bad_env_file`): a line without `=`, a name that is not
// [A-Za-z_][A-Za-z0-9_]*, an unterminated quote, text after a closing quote, a NUL byte.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace berth {

// [A-Za-z_][A-Za-z0-9_]*: what a shell can export.
bool valid_env_name(std::string_view name);

// `origin` names the file in errors ("/srv/app/.env").
Result<std::vector<std::pair<std::string, std::string>>> parse_env_file(std::string_view text,
                                                                        const std::string& origin);

}  // namespace berth

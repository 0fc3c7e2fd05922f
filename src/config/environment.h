// The environment a component's process gets, and where each variable came from. Layers, each
// over the one before: the daemon's base ([env] of its config: `pass` names taken from the
// daemon's own environment, then `set`), [run] env, the env file (`[run] env_file`, else `.env`
// when present, read afresh at every start), the [env.NAME] profile chosen with --profile,
// then --env overrides (persisted per component), then berth's own BERTH_* variables.
// Pure functions, any thread.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/manifest.h"
#include "core/error.h"

namespace berth {

// One request's change to the settings: `set` and `unset` keys, and a profile ("" clears it).
struct EnvChange {
  std::map<std::string, std::string> set;
  std::vector<std::string> unset;
  std::optional<std::string> profile;
  bool empty() const { return set.empty() && unset.empty() && !profile; }
  // Applies the change to what was chosen before (--env values and a profile name).
  void apply(std::map<std::string, std::string>& overrides, std::string& chosen) const;
};

struct EnvVar {
  std::string value;
  std::string source;  // "daemon", "run.env", the env file's path, "profile NAME", "--env", "berth"
};
using Environment = std::map<std::string, EnvVar>;

// The daemon's base: each name in `pass` (a trailing '*' matches a prefix, as in "LC_*") taken
// from `own` when there, then `set`; PATH falls back to the usual system directories.
std::map<std::string, std::string> base_environment(const std::vector<std::string>& pass,
                                                    const std::map<std::string, std::string>& set,
                                                    const std::map<std::string, std::string>& own);

// Every layer but berth's own, for a component rooted at `root`. Fails with bad_env_file (a
// named file that is missing or does not parse) or unknown_profile.
Result<Environment> compose_environment(const std::map<std::string, std::string>& base,
                                        const Manifest& manifest, const std::filesystem::path& root,
                                        const std::map<std::string, std::string>& overrides,
                                        const std::string& profile);

std::map<std::string, std::string> values_of(const Environment& env);

// Names that look like they hold a secret (TOKEN, SECRET, PASSWORD, KEY, ...): their values
// are shown masked. A URL's password (scheme://user:pass@host) is masked in any variable.
std::string shown_value(const std::string& name, const std::string& value);

// Checks a change before anything is kept: names valid, values without NUL bytes.
Result<void> validate(const EnvChange& change);

}  // namespace berth

#include "config/environment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "config/env_file.h"
#include "core/fs_util.h"

namespace berth {
namespace fs = std::filesystem;

void EnvChange::apply(std::map<std::string, std::string>& overrides, std::string& chosen) const {
  for (auto& k : unset) overrides.erase(k);
  for (auto& [k, v] : set) overrides[k] = v;
  if (profile) chosen = *profile;
}

std::map<std::string, std::string> base_environment(const std::vector<std::string>& pass,
                                                    const std::map<std::string, std::string>& set,
                                                    const std::map<std::string, std::string>& own) {
  std::map<std::string, std::string> out;
  for (const auto& p : pass) {
    if (p.ends_with('*')) {
      std::string prefix = p.substr(0, p.size() - 1);
      for (auto it = own.lower_bound(prefix); it != own.end() && it->first.starts_with(prefix);
           ++it)
        out.insert(*it);
    } else if (auto it = own.find(p); it != own.end()) {
      out.insert(*it);
    }
  }
  for (const auto& [k, v] : set) out[k] = v;
  out.try_emplace("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  return out;
}

Result<Environment> compose_environment(const std::map<std::string, std::string>& base,
                                        const Manifest& manifest, const fs::path& root,
                                        const std::map<std::string, std::string>& overrides,
                                        const std::string& profile) {
  Environment env;
  for (const auto& [k, v] : base) env[k] = {v, "daemon"};
  for (const auto& [k, v] : manifest.run.env) env[k] = {v, "run.env"};

  // The env file: a named one must exist; the default .env is used only when there.
  const auto& named = manifest.run.env_file;
  if (!named || !named->empty()) {
    fs::path file = named ? fs::path(*named) : fs::path(".env");
    if (file.is_relative()) file = root / file;
    std::error_code ec;
    if (fs::exists(file, ec)) {
      auto text = read_file(file);
      if (!text)
        return fail(Code::kBadEnvFile,
                    fmt::format("cannot read {}: {}", file.string(), text.error().message));
      auto pairs = parse_env_file(*text, file.string());
      BERTH_TRY(pairs);
      for (auto& [k, v] : *pairs) env[k] = {v, file.string()};
    } else if (named) {
      return fail(Code::kBadEnvFile,
                  fmt::format("[run] env_file {} does not exist", file.string()));
    }
  }

  if (!profile.empty()) {
    auto it = manifest.profiles.find(profile);
    if (it == manifest.profiles.end()) {
      std::string known;
      for (auto& [name, _] : manifest.profiles) known += (known.empty() ? "" : ", ") + name;
      return fail(Code::kUnknownProfile,
                  fmt::format("no [env.{}] profile in berth.toml ({})", profile,
                              known.empty() ? "it has none" : "it has: " + known));
    }
    for (const auto& [k, v] : it->second) env[k] = {v, "profile " + profile};
  }
  for (const auto& [k, v] : overrides) env[k] = {v, "--env"};
  return env;
}

std::map<std::string, std::string> values_of(const Environment& env) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : env) out[k] = v.value;
  return out;
}

namespace {

bool looks_secret(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (name == "PWD" || name == "OLDPWD") return false;  // the working directory, not a password
  for (const char* word : {"SECRET", "TOKEN", "PASS", "PWD", "KEY", "CREDENTIAL", "PRIVATE", "AUTH",
                           "COOKIE", "SESSION", "SALT", "DSN"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

std::string shown_value(const std::string& name, const std::string& value) {
  if (looks_secret(name)) return value.empty() ? "" : "****";
  // scheme://user:password@host...: keep all but the password.
  auto scheme = value.find("://");
  if (scheme == std::string::npos) return value;
  auto at = value.find('@', scheme + 3);
  auto colon = value.find(':', scheme + 3);
  auto slash = value.find('/', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at ||
      (slash != std::string::npos && slash < at))
    return value;
  return value.substr(0, colon + 1) + "****" + value.substr(at);
}

Result<void> validate(const EnvChange& change) {
  for (const auto& [k, v] : change.set) {
    if (!valid_env_name(k))
      return fail(Code::kBadEnv,
                  fmt::format("\"{}\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)", k));
    if (v.find('\0') != std::string::npos)
      return fail(Code::kBadEnv, fmt::format("the value of {} contains a NUL byte", k));
  }
  for (const auto& k : change.unset)
    if (!valid_env_name(k))
      return fail(Code::kBadEnv, fmt::format("\"{}\" is not a valid variable name", k));
  if (change.profile && !change.profile->empty() && !valid_component_name(*change.profile))
    return fail(Code::kBadEnv, fmt::format("\"{}\" is not a valid profile name", *change.profile));
  return {};
}

}  // namespace berth

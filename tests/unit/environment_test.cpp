// Env files and the layers of a component's environment (config/env_file, config/environment).
#include "config/environment.h"

#include <gtest/gtest.h>

#include <fstream>

#include "config/env_file.h"
#include "support/temp_dir.h"

namespace berth {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs env_pairs(std::string_view text) {
  auto r = parse_env_file(text, ".env");
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? *r : Pairs{};
}

std::string refusal(std::string_view text) {
  auto r = parse_env_file(text, ".env");
  EXPECT_FALSE(r.has_value()) << "accepted: " << text;
  if (r) return "";
  EXPECT_EQ(r.error().code, Code::kBadEnvFile);
  return r.error().message;
}

TEST(EnvFile, ReadsTheUsualSyntax) {
  EXPECT_EQ(env_pairs("# a comment\n\nA=1\n  B = two  \nexport C=3\n"),
            (Pairs{{"A", "1"}, {"B", "two"}, {"C", "3"}}));
  EXPECT_EQ(env_pairs("A=x # note\nB=a#b\nC=\n"), (Pairs{{"A", "x"}, {"B", "a#b"}, {"C", ""}}));
  EXPECT_EQ(env_pairs("A=\"two words\" # note\nB='$HOME \\n'\n"),
            (Pairs{{"A", "two words"}, {"B", "$HOME \\n"}}));
  EXPECT_EQ(env_pairs("A=\"tab\\there\\n\\\"q\\\" \\\\ \\$X\"\n"),
            (Pairs{{"A", "tab\there\n\"q\" \\ $X"}}));
  EXPECT_EQ(env_pairs("A=last-line-without-newline"), (Pairs{{"A", "last-line-without-newline"}}));
  EXPECT_EQ(env_pairs("A=1\r\nB=2\r\n"), (Pairs{{"A", "1"}, {"B", "2"}}));
}

TEST(EnvFile, AQuotedValueMaySpanLines) {
  auto p = env_pairs("KEY=\"-----BEGIN-----\nabc\n-----END-----\"\nNEXT=1\n");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].second, "-----BEGIN-----\nabc\n-----END-----");
  EXPECT_EQ(p[1], (std::pair<std::string, std::string>{"NEXT", "1"}));
}

TEST(EnvFile, RefusalsNameTheFileAndLine) {
  EXPECT_NE(refusal("A=1\nno equals here\n").find(".env:2:"), std::string::npos);
  EXPECT_NE(refusal("1A=x\n").find("not a valid variable name"), std::string::npos);
  EXPECT_NE(refusal("A=\"open\nB=2\n").find("unterminated"), std::string::npos);
  EXPECT_NE(refusal("A='x' y\n").find("after the closing quote"), std::string::npos);
  EXPECT_NE(refusal(std::string_view("A=x\0y\n", 6)).find("NUL"), std::string::npos);
  EXPECT_NE(refusal("=x\n").find("expected KEY=VALUE"), std::string::npos);
}

TEST(Environment, TheBasePassesOnlyNamedVariables) {
  std::map<std::string, std::string> own = {
      {"HOME", "/root"}, {"LC_ALL", "C"}, {"LC_TIME", "en"}, {"SECRET_OF_THE_SHELL", "x"}};
  auto base = base_environment({"HOME", "LC_*", "TZ"}, {{"TZ", "UTC"}}, own);
  EXPECT_EQ(base.at("HOME"), "/root");
  EXPECT_EQ(base.at("LC_ALL"), "C");
  EXPECT_EQ(base.at("LC_TIME"), "en");
  EXPECT_EQ(base.at("TZ"), "UTC");
  EXPECT_FALSE(base.contains("SECRET_OF_THE_SHELL"));
  EXPECT_TRUE(base.at("PATH").find("/usr/bin") != std::string::npos);  // a default PATH
}

TEST(Environment, LayersApplyInOrderAndSayWhereEachCameFrom) {
  test::TempDir dir;
  std::ofstream(dir.path / ".env") << "A=file\nB=file\n";
  Manifest m;
  m.run.env = {{"A", "run"}, {"B", "run"}, {"C", "run"}, {"D", "run"}};
  m.profiles["staging"] = {{"B", "staging"}, {"C", "staging"}};
  auto env = compose_environment({{"A", "daemon"}, {"E", "daemon"}}, m, dir.path, {{"C", "flag"}},
                                 "staging");
  ASSERT_TRUE(env.has_value()) << env.error().message;
  EXPECT_EQ(env->at("E").source, "daemon");
  EXPECT_EQ(env->at("D").value, "run");
  EXPECT_EQ(env->at("D").source, "run.env");
  EXPECT_EQ(env->at("A").value, "file");
  EXPECT_EQ(env->at("A").source, (dir.path / ".env").string());
  EXPECT_EQ(env->at("B").value, "staging");
  EXPECT_EQ(env->at("B").source, "profile staging");
  EXPECT_EQ(env->at("C").value, "flag");
  EXPECT_EQ(env->at("C").source, "--env");
}

TEST(Environment, AMissingNamedFileOrProfileIsAnError) {
  test::TempDir dir;
  Manifest m;
  auto none = compose_environment({}, m, dir.path, {}, "");
  ASSERT_TRUE(none.has_value());  // no .env: nothing to read, no error
  m.run.env_file = "config/app.env";
  auto missing = compose_environment({}, m, dir.path, {}, "");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Code::kBadEnvFile);
  EXPECT_NE(missing.error().message.find("config/app.env"), std::string::npos);
  m.run.env_file = "";  // env_file = false: not even .env
  std::ofstream(dir.path / ".env") << "broken line\n";
  EXPECT_TRUE(compose_environment({}, m, dir.path, {}, "").has_value());
  m.profiles["prod"] = {};
  auto unknown = compose_environment({}, m, dir.path, {}, "stagign");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Code::kUnknownProfile);
  EXPECT_NE(unknown.error().message.find("prod"), std::string::npos);
}

TEST(Environment, SecretsAreMaskedWhereShown) {
  EXPECT_EQ(shown_value("API_TOKEN", "abc"), "****");
  EXPECT_EQ(shown_value("db_password", "abc"), "****");
  EXPECT_EQ(shown_value("STRIPE_SECRET_KEY", "sk_live"), "****");
  EXPECT_EQ(shown_value("PORT", "3000"), "3000");
  EXPECT_EQ(shown_value("DATABASE_URL", "postgres://app:hunter2@db:5432/x"),
            "postgres://app:****@db:5432/x");
  EXPECT_EQ(shown_value("SITE", "https://example.com/a@b"), "https://example.com/a@b");
}

TEST(Environment, AChangeIsValidatedAndApplied) {
  EnvChange bad;
  bad.set = {{"NOT-VALID", "x"}};
  EXPECT_EQ(validate(bad).error().code, Code::kBadEnv);
  EnvChange c;
  c.set = {{"A", "2"}};
  c.unset = {"B"};
  c.profile = "prod";
  ASSERT_TRUE(validate(c).has_value());
  std::map<std::string, std::string> kept = {{"A", "1"}, {"B", "1"}, {"C", "1"}};
  std::string profile;
  c.apply(kept, profile);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"A", "2"}, {"C", "1"}}));
  EXPECT_EQ(profile, "prod");
}

}  // namespace
}  // namespace berth

#include "cli/suggest.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

const std::vector<std::string> kCommands = {"ls", "list", "status", "deploy", "deployments",
                                            "restart", "rm"};

TEST(Suggest, ATypoNamesTheNearestCommand) {
  EXPECT_EQ(closest("deploi", kCommands), "deploy");
  EXPECT_EQ(closest("lst", kCommands), "ls");
  EXPECT_EQ(closest("statsu", kCommands), "status");
  EXPECT_EQ(closest("restrat", kCommands), "restart");
}

TEST(Suggest, AWordFarFromEveryCommandNamesNone) {
  EXPECT_EQ(closest("frobnicate", kCommands), std::nullopt);
  EXPECT_EQ(closest("x", kCommands), std::nullopt);  // one edit is the whole word
  EXPECT_EQ(closest("", kCommands), std::nullopt);
}

}  // namespace
}  // namespace berth::cli

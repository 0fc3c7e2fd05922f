// The daemon's config file: the [cache] table and its refusals.
#include "config/daemon_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "support/temp_dir.h"

namespace berth {
namespace {

struct DaemonConfigTest : ::testing::Test {
  void SetUp() override { ::unsetenv("BERTH_CACHE_DIR"); }
  Result<DaemonConfig> load(const std::string& toml) {
    std::ofstream(home.path / "config.toml") << toml;
    return load_daemon_config(home.path);
  }
  test::TempDir home;
};

TEST_F(DaemonConfigTest, CacheDefaultsToTheHome) {
  auto c = load_daemon_config(home.path);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->cache.enabled);
  EXPECT_EQ(c->cache.dir, home.path / "cache");
  EXPECT_EQ(c->cache.lock, "ofd");
  EXPECT_EQ(c->cache.max_bytes, 10ull << 30);
}

TEST_F(DaemonConfigTest, CacheTableIsRead) {
  auto c = load(
      "[cache]\ndir = \"/srv/shared\"\nlock = \"lease-file\"\nlease_heartbeat = \"1s\"\n"
      "lease_stale = \"5s\"\nmax_size = \"2GiB\"\nlink = \"copy\"\nenabled = true\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cache.dir, "/srv/shared");
  EXPECT_EQ(c->cache.lock, "lease-file");
  EXPECT_EQ(c->cache.lease_heartbeat, Millis(1000));
  EXPECT_EQ(c->cache.lease_stale, Millis(5000));
  EXPECT_EQ(c->cache.max_bytes, 2ull << 30);
  EXPECT_TRUE(c->cache.copy);
  ::setenv("BERTH_CACHE_DIR", "/mnt/cache", 1);
  EXPECT_EQ(load_daemon_config(home.path)->cache.dir, "/mnt/cache");
  ::unsetenv("BERTH_CACHE_DIR");
  EXPECT_EQ(load("[cache]\ndir = \"c2\"\n")->cache.dir, home.path / "c2");
}

TEST_F(DaemonConfigTest, BadCacheSettingsAreRefusedByName) {
  for (const char* bad :
       {"lock = \"flock\"", "max_size = \"huge\"", "link = \"symlink\"",
        "lease_heartbeat = \"5s\"\nlease_stale = \"5s\"", "colour = 1", "lease_stale = 10"}) {
    auto c = load(std::string("[cache]\n") + bad + "\n");
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().code, Code::kBadConfig);
    EXPECT_NE(c.error().message.find("cache"), std::string::npos) << c.error().message;
  }
}

}  // namespace
}  // namespace berth

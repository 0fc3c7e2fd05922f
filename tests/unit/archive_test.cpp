// The archive attack corpus: each case builds its own archive, extracts it into a staging
// directory and checks the error code and that nothing appeared or changed outside staging.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "archive/extract.h"
#include "archive/pack.h"
#include "core/fs_util.h"
#include "support/tar_builder.h"
#include "support/temp_dir.h"

namespace berth {
namespace {
namespace fs = std::filesystem;
using test::TarBuilder;

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(stage());
    fs::create_directories(outside());
    ASSERT_TRUE(write_file_atomic(outside() / "secret", "original"));
  }

  fs::path stage() const { return base_ / "stage"; }
  fs::path outside() const { return base_ / "outside"; }
  fs::path archive() const { return base_ / "a.tar.gz"; }

  Result<ExtractStats> extract(const ExtractLimits& limits = {}) {
    return extract_archive(archive(), stage(), limits);
  }

  // Nothing but stage/, outside/ and the archive in base; outside/ exactly as it was.
  void expect_outside_untouched() {
    std::set<std::string> names;
    for (auto& d : fs::directory_iterator(base_)) names.insert(d.path().filename().string());
    EXPECT_EQ(names, (std::set<std::string>{"stage", "outside", "a.tar.gz"}));
    std::set<std::string> out;
    for (auto& d : fs::directory_iterator(outside())) out.insert(d.path().filename().string());
    EXPECT_EQ(out, std::set<std::string>{"secret"});
    EXPECT_EQ(*read_file(outside() / "secret"), "original");
  }

  void expect_refused(const std::string& code, const ExtractLimits& limits = {}) {
    auto r = extract(limits);
    ASSERT_FALSE(r) << "extraction succeeded; expected " << code;
    EXPECT_EQ(wire(r.error().code), code) << r.error().message;
    expect_outside_untouched();
  }

  test::TempDir tmp_;
  const fs::path& base_ = tmp_.path;
};

TEST_F(ExtractTest, ExtractsFilesDirsLinksAndKeepsModes) {
  {
    TarBuilder(archive())
        .dir("app")
        .file("app/berth.toml", "[run]\ncommand = [\"true\"]\n")
        .file("app/bin/run.sh", "#!/bin/sh\n", 0755)
        .symlink("app/current", "bin/run.sh")
        .hardlink("app/copy", "app/berth.toml");
  }
  auto r = extract();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->files, 3u);
  EXPECT_EQ(r->top, "app");  // everything sat in one folder: the caller unwraps it
  EXPECT_EQ(*read_file(stage() / "app/current"), "#!/bin/sh\n");
  EXPECT_EQ(fs::status(stage() / "app/bin/run.sh").permissions() & fs::perms::owner_exec,
            fs::perms::owner_exec);
  EXPECT_EQ(fs::hard_link_count(stage() / "app/berth.toml"), 2u);
}

TEST_F(ExtractTest, NoSingleTopWhenFilesSitAtTheRoot) {
  { TarBuilder(archive()).file("berth.toml", "x").dir("lib").file("lib/a", "a"); }
  auto r = extract();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->top);
}

TEST_F(ExtractTest, CreatesParentsTheArchiveOmits) {
  { TarBuilder(archive()).file("a/b/c/d.txt", "deep"); }
  ASSERT_TRUE(extract());
  EXPECT_EQ(*read_file(stage() / "a/b/c/d.txt"), "deep");
}

TEST_F(ExtractTest, DotDotRefused) {
  { TarBuilder(archive()).file("../outside/pwn", "x"); }
  expect_refused("archive_path_traversal");
}

TEST_F(ExtractTest, InnerDotDotRefused) {
  { TarBuilder(archive()).file("a/../../outside/pwn", "x"); }
  expect_refused("archive_path_traversal");
}

TEST_F(ExtractTest, AbsolutePathRefused) {
  { TarBuilder(archive()).file((outside() / "pwn").string(), "x"); }
  expect_refused("archive_absolute_path");
}

TEST_F(ExtractTest, DoubleSlashAbsolutePathRefused) {
  { TarBuilder(archive()).file("/" + (outside() / "pwn").string(), "x"); }
  expect_refused("archive_absolute_path");
}

TEST_F(ExtractTest, SymlinkOutThenFileThroughItRefused) {
  { TarBuilder(archive()).symlink("l", "../outside").file("l/pwn", "x"); }
  expect_refused("archive_symlink_escape");
}

TEST_F(ExtractTest, SymlinkToParentThenDeepFileRefused) {
  { TarBuilder(archive()).symlink("l", "..").file("l/a/b", "x"); }
  expect_refused("archive_symlink_escape");
}

TEST_F(ExtractTest, SymlinkToAbsoluteFileThenSameNameFileRefused) {
  { TarBuilder(archive()).symlink("f", (outside() / "secret").string()).file("f", "pwned"); }
  expect_refused("archive_symlink_escape");
}

TEST_F(ExtractTest, InwardSymlinkThenFileThroughItRefused) {
  // Even a link that stays inside is never written through.
  { TarBuilder(archive()).dir("d").symlink("l", "d").file("l/x", "x"); }
  expect_refused("archive_through_symlink");
}

TEST_F(ExtractTest, DirectoryThenSameNameSymlinkThenFileRefused) {
  { TarBuilder(archive()).dir("d").symlink("d", ".").file("d/x", "x"); }
  expect_refused("archive_entry_conflict");
}

TEST_F(ExtractTest, SymlinkChainClimbingOutRefused) {
  // Each link alone stays inside; resolved together c leaves the root.
  { TarBuilder(archive()).dir("a").symlink("a/b", "..").symlink("c", "a/b/.."); }
  expect_refused("archive_symlink_escape");
}

TEST_F(ExtractTest, HardlinkOutsideRefused) {
  { TarBuilder(archive()).hardlink("h", "../outside/secret"); }
  expect_refused("archive_hardlink_escape");
}

TEST_F(ExtractTest, HardlinkAbsoluteRefused) {
  { TarBuilder(archive()).hardlink("h", (outside() / "secret").string()); }
  expect_refused("archive_hardlink_escape");
}

TEST_F(ExtractTest, HardlinkToDotDotRefused) {
  { TarBuilder(archive()).hardlink("h", ".."); }
  expect_refused("archive_hardlink_escape");
}

TEST_F(ExtractTest, HardlinkThroughSymlinkChainRefused) {
  {
    TarBuilder(archive())
        .dir("sub")
        .file("sub/file", "x")
        .symlink("s1", "sub")
        .symlink("s2", "s1")
        .hardlink("h", "s2/file");
  }
  expect_refused("archive_hardlink_escape");
}

TEST_F(ExtractTest, CharacterDeviceRefused) {
  { TarBuilder(archive()).special("dev", AE_IFCHR); }
  expect_refused("archive_special_file");
}

TEST_F(ExtractTest, FifoRefused) {
  { TarBuilder(archive()).special("fifo", AE_IFIFO); }
  expect_refused("archive_special_file");
}

TEST_F(ExtractTest, SetuidAndSetgidBitsStripped) {
  { TarBuilder(archive()).file("suid", "x", 04755).file("sgid", "y", 02755); }
  auto r = extract();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->setid_stripped, 2u);
  struct stat st {};
  ASSERT_EQ(::stat((stage() / "suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((stage() / "sgid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(ExtractTest, LongPathRefused) {
  std::string p;
  for (int i = 0; i < 12; ++i) p += std::string(100, 'a' + i) + "/";
  { TarBuilder(archive()).file(p + "f", "x"); }
  expect_refused("archive_path_too_long");
}

TEST_F(ExtractTest, DeepPathRefused) {
  std::string p;
  for (int i = 0; i < 70; ++i) p += "d/";
  { TarBuilder(archive()).file(p + "f", "x"); }
  expect_refused("archive_too_deep");
}

TEST_F(ExtractTest, GzipBombRefused) {
  { TarBuilder(archive(), true, 9).zeros("zeros", 200ULL << 20); }
  expect_refused("archive_bomb");
}

TEST_F(ExtractTest, ContentsOverTheByteLimitRefused) {
  { TarBuilder(archive()).file("a", std::string(4096, 'x')).file("b", std::string(4096, 'y')); }
  ExtractLimits limits;
  limits.max_bytes = 6000;
  expect_refused("archive_too_large", limits);
}

TEST_F(ExtractTest, MillionTinyEntriesRefused) {
  {
    TarBuilder b(archive(), true, 1);
    for (int i = 0; i < 1'000'000; ++i) b.dir("d" + std::to_string(i));
  }
  expect_refused("archive_too_many_entries");
}

TEST_F(ExtractTest, TruncatedArchiveFailsCleanly) {
  std::mt19937 rng(7);
  std::string noise(256 * 1024, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  { TarBuilder(archive()).file("a", noise).file("b", noise); }
  fs::resize_file(archive(), fs::file_size(archive()) / 2);
  expect_refused("archive_truncated");
}

TEST_F(ExtractTest, GarbageIsInvalid) {
  ASSERT_TRUE(write_file_atomic(archive(), std::string(4096, 'z')));
  expect_refused("archive_invalid");
}

TEST_F(ExtractTest, AttackerSymlinkAlreadyInDestinationNotFollowed) {
  fs::create_directory_symlink(outside(), stage() / "evil");
  { TarBuilder(archive()).file("evil/pwn", "x"); }
  expect_refused("archive_through_symlink");
}

TEST_F(ExtractTest, FileReplacesAttackerSymlinkInsteadOfWritingThroughIt) {
  fs::create_symlink(outside() / "secret", stage() / "evil");
  { TarBuilder(archive()).file("evil", "mine"); }
  ASSERT_TRUE(extract());
  EXPECT_FALSE(fs::is_symlink(stage() / "evil"));
  EXPECT_EQ(*read_file(stage() / "evil"), "mine");
  expect_outside_untouched();
}

TEST_F(ExtractTest, CancelStopsExtraction) {
  { TarBuilder(archive()).file("a", "x").file("b", "y"); }
  std::atomic<bool> cancel{true};
  auto r = extract_archive(archive(), stage(), {}, &cancel);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kCancelled);
}

TEST(PackTest, PacksAndSkipsIgnoredThenExtractsTheSame) {
  test::TempDir tmp;
  const fs::path& base = tmp.path;
  auto src = base / "src";
  fs::create_directories(src / "node_modules/dep");
  fs::create_directories(src / ".git");
  fs::create_directories(src / "lib");
  ASSERT_TRUE(write_file_atomic(src / "berth.toml", "[run]\ncommand=[\"true\"]\n"));
  ASSERT_TRUE(write_file_atomic(src / "lib/a.js", "a"));
  ASSERT_TRUE(write_file_atomic(src / "secret.env", "k=v"));
  ASSERT_TRUE(write_file_atomic(src / ".berthignore", "*.env\n"));
  ASSERT_TRUE(write_file_atomic(src / "node_modules/dep/index.js", "x"));
  ASSERT_TRUE(write_file_atomic(src / ".git/HEAD", "x"));
  fs::create_symlink("lib/a.js", src / "main.js");
  auto packed = pack_directory(src, base / "out.tar.gz");
  ASSERT_TRUE(packed) << packed.error().message;
  fs::create_directories(base / "x");
  auto r = extract_archive(base / "out.tar.gz", base / "x", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(fs::exists(base / "x/berth.toml"));
  EXPECT_EQ(*read_file(base / "x/main.js"), "a");
  EXPECT_FALSE(fs::exists(base / "x/secret.env"));
  EXPECT_FALSE(fs::exists(base / "x/node_modules"));
  EXPECT_FALSE(fs::exists(base / "x/.git"));
  EXPECT_EQ(packed->left_out.size(), 3u);  // .berthignore's secret.env, .git/, node_modules/
}

// What git would not commit is not uploaded either, and .berthignore can take some of it back.
TEST(PackTest, GitignoreIsHonouredAndBerthignoreCanTakeBack) {
  test::TempDir tmp;
  const fs::path& base = tmp.path;
  auto src = base / "src";
  fs::create_directories(src / "secrets");
  fs::create_directories(src / "dist");
  ASSERT_TRUE(write_file_atomic(src / "berth.toml", "[run]\ncommand=[\"true\"]\n"));
  ASSERT_TRUE(write_file_atomic(src / ".env", "TOKEN=hunter2"));
  ASSERT_TRUE(write_file_atomic(src / "secrets/key.pem", "k"));
  ASSERT_TRUE(write_file_atomic(src / "dist/app.js", "built"));
  ASSERT_TRUE(write_file_atomic(src / ".gitignore", "# local only\n.env\nsecrets/\ndist/\n"));
  ASSERT_TRUE(write_file_atomic(src / ".berthignore", "!dist/\n"));
  auto packed = pack_directory(src, base / "out.tar.gz");
  ASSERT_TRUE(packed) << packed.error().message;
  fs::create_directories(base / "x");
  ASSERT_TRUE(extract_archive(base / "out.tar.gz", base / "x", {}));
  EXPECT_FALSE(fs::exists(base / "x/.env"));
  EXPECT_FALSE(fs::exists(base / "x/secrets"));
  EXPECT_EQ(*read_file(base / "x/dist/app.js"), "built");
  auto left = packed->left_out;
  std::ranges::sort(left);
  EXPECT_EQ(left, (std::vector<std::string>{".env", "secrets/"}));
}

}  // namespace
}  // namespace berth

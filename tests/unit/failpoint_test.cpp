// Failpoints (core/failpoint.h): what arms them, what a hit does, how a count runs out. The
// registry is process-wide, so every test disarms what it armed.
#include "core/failpoint.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace berth {
namespace {

struct Disarm {
  ~Disarm() {
    for (auto n : failpoint::names()) failpoint::disarm(n);
  }
};

TEST(Failpoint, UnarmedNeverFails) {
  errno = 0;
  EXPECT_FALSE(failpoint::hit("fs.write"));
  EXPECT_EQ(errno, 0);
}

TEST(Failpoint, ArmedFailsEveryHitWithItsErrorUntilDisarmed) {
  Disarm d;
  ASSERT_TRUE(failpoint::arm_all("fs.write=ENOSPC"));
  for (int i = 0; i < 3; ++i) {
    errno = 0;
    EXPECT_TRUE(failpoint::hit("fs.write"));
    EXPECT_EQ(errno, ENOSPC);
  }
  EXPECT_FALSE(failpoint::hit("fs.fsync"));  // only the one named
  failpoint::disarm("fs.write");
  EXPECT_FALSE(failpoint::hit("fs.write"));
}

TEST(Failpoint, ACountFailsThatManyHitsThenStaysListedAsSpent) {
  Disarm d;
  ASSERT_TRUE(failpoint::arm_all("http.accept=EMFILE*2,store.write=EIO"));
  EXPECT_TRUE(failpoint::hit("http.accept"));
  EXPECT_TRUE(failpoint::hit("http.accept"));
  EXPECT_FALSE(failpoint::hit("http.accept"));
  auto armed = failpoint::armed();
  ASSERT_EQ(armed.size(), 2u);
  EXPECT_EQ(armed[0].name, "http.accept");
  EXPECT_EQ(armed[0].failed, 2u);
  EXPECT_EQ(armed[0].remaining, uint64_t{0});
  EXPECT_EQ(armed[1].error, EIO);
  EXPECT_FALSE(armed[1].remaining.has_value());
}

TEST(Failpoint, RefusesUnknownNamesErrorsAndCounts) {
  Disarm d;
  EXPECT_EQ(failpoint::arm_all("fs.wirte=EIO").error().code, Code::kNotFound);
  EXPECT_EQ(failpoint::arm_all("fs.write=EWHAT").error().code, Code::kBadRequest);
  EXPECT_EQ(failpoint::arm_all("fs.write=EIO*0").error().code, Code::kBadRequest);
  EXPECT_EQ(failpoint::arm_all("fs.write=EIO*x").error().code, Code::kBadRequest);
  EXPECT_EQ(failpoint::arm_all("fs.write").error().code, Code::kBadRequest);
  EXPECT_TRUE(failpoint::armed().empty());
}

TEST(Failpoint, ADiskFullIsItsOwnCode) {
  EXPECT_EQ(io_code(ENOSPC, Code::kIoError), Code::kDiskFull);
  EXPECT_EQ(io_code(EDQUOT, Code::kStoreError), Code::kDiskFull);
  EXPECT_EQ(io_code(EIO, Code::kIoError), Code::kIoError);
}

}  // namespace
}  // namespace berth

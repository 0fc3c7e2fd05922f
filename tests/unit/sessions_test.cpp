// api::Sessions on a clock the test moves: cookies found among others, expiry, the doubling
// wait after wrong tokens, its reset, and the bounds on what it keeps.
#include "api/sessions.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

using namespace std::chrono_literals;
using Clock = Sessions::Clock;

const Clock::time_point t0 = Clock::time_point() + 1000h;

std::string cookie(const Sessions::Opened& o) {
  return std::string(Sessions::kCookie) + "=" + o.id;
}

TEST(Sessions, TheCookieIsFoundAmongOthersAndOnlyByItsExactName) {
  Sessions s("tok", false);
  auto o = s.open(t0);
  EXPECT_EQ(s.csrf_of(cookie(o), t0), o.csrf);
  EXPECT_EQ(s.csrf_of("a=1; " + cookie(o) + "; b=2", t0), o.csrf);
  EXPECT_EQ(s.csrf_of("a=1;" + cookie(o), t0), o.csrf);
  EXPECT_FALSE(s.csrf_of("x" + cookie(o), t0));
  EXPECT_FALSE(s.csrf_of("berth_session_old=" + o.id, t0));
  EXPECT_FALSE(s.csrf_of("berth_session=", t0));
  EXPECT_FALSE(s.csrf_of("berth_session=" + o.id + "0", t0));
  EXPECT_FALSE(s.csrf_of("", t0));
  EXPECT_NE(o.id, o.csrf);
}

TEST(Sessions, ASessionEndsAfterItsLifetimeOrWhenClosed) {
  Sessions s("tok", false);
  auto a = s.open(t0), b = s.open(t0);
  EXPECT_TRUE(s.csrf_of(cookie(a), t0 + Sessions::kLifetime - 1s));
  EXPECT_FALSE(s.csrf_of(cookie(a), t0 + Sessions::kLifetime));
  s.close("x=1; " + cookie(b));
  EXPECT_FALSE(s.csrf_of(cookie(b), t0));
  EXPECT_EQ(s.open_sessions(), 0u);
}

TEST(Sessions, OpeningPastTheLimitDropsTheOldest) {
  Sessions s("tok", false);
  auto first = s.open(t0);
  for (int i = 1; i < 1024; ++i) s.open(t0 + std::chrono::seconds(i));
  EXPECT_TRUE(s.csrf_of(cookie(first), t0 + 2000s));
  auto last = s.open(t0 + 2000s);
  EXPECT_EQ(s.open_sessions(), 1024u);
  EXPECT_FALSE(s.csrf_of(cookie(first), t0 + 2000s));
  EXPECT_TRUE(s.csrf_of(cookie(last), t0 + 2000s));
}

TEST(Sessions, TheCookieIsHttpOnlyStrictAndSecureOverTls) {
  const std::string plain = Sessions("t", false).set_cookie("abc");
  EXPECT_EQ(plain, "berth_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200");
  EXPECT_NE(Sessions("t", true).set_cookie("abc").find("; Secure"), std::string::npos);
  EXPECT_NE(Sessions("t", false).clear_cookie().find("Max-Age=0"), std::string::npos);
}

TEST(Sessions, OnlyTheTokenItselfIsRight) {
  Sessions s("secret-token", false);
  EXPECT_TRUE(s.right_token("secret-token"));
  EXPECT_FALSE(s.right_token("secret-toke"));
  EXPECT_FALSE(s.right_token("secret-tokeN"));
  EXPECT_FALSE(s.right_token(""));
}

TEST(Sessions, WrongTokensPastTheFreeOnesDoubleTheWaitUpToItsCap) {
  Sessions s("tok", false);
  auto now = t0;
  for (int i = 0; i < Sessions::kFreeFailures; ++i) {
    EXPECT_EQ(s.wait_before_attempt("10.0.0.1", now).count(), 0) << i;
    s.attempt_failed("10.0.0.1", now);
  }
  EXPECT_EQ(s.wait_before_attempt("10.0.0.1", now).count(), 0);
  std::vector<long> waits;
  for (int i = 0; i < 12; ++i) {
    s.attempt_failed("10.0.0.1", now);
    auto w = s.wait_before_attempt("10.0.0.1", now);
    waits.push_back(w.count());
    now += w;  // the next attempt comes as soon as it may
    EXPECT_EQ(s.wait_before_attempt("10.0.0.1", now).count(), 0);
  }
  EXPECT_EQ(waits, (std::vector<long>{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}));
  // Another address is not held back by this one.
  EXPECT_EQ(s.wait_before_attempt("10.0.0.2", now).count(), 0);
  // A part of a second still left is said as a whole second, never "0".
  s.attempt_failed("10.0.0.1", now);
  EXPECT_EQ(s.wait_before_attempt("10.0.0.1", now + 299'500ms).count(), 1);
}

TEST(Sessions, ARightTokenOrAQuarterHourOfQuietClearsTheCount) {
  Sessions s("tok", false);
  for (int i = 0; i < 8; ++i) s.attempt_failed("a", t0);
  EXPECT_GT(s.wait_before_attempt("a", t0).count(), 0);
  s.attempt_succeeded("a");
  EXPECT_EQ(s.wait_before_attempt("a", t0).count(), 0);
  s.attempt_failed("a", t0);
  EXPECT_EQ(s.wait_before_attempt("a", t0).count(), 0) << "the count started over";

  for (int i = 0; i < 8; ++i) s.attempt_failed("b", t0);
  EXPECT_EQ(s.wait_before_attempt("b", t0 + 16min).count(), 0);
  s.attempt_failed("b", t0 + 16min);
  EXPECT_EQ(s.wait_before_attempt("b", t0 + 16min).count(), 0) << "one failure after quiet";
}

}  // namespace
}  // namespace berth::api

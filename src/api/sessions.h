// The dashboard's sign-ins: a session per browser that gave the token once, proven afterwards
// by an HttpOnly cookie, with a CSRF token that every state-changing request must repeat, and
// the limit on wrong tokens per client address. In memory only (a daemon restart signs
// everyone out). Owned by the host, used on the event-loop thread.
#pragma once
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace berth::api {

// Compares in time that depends on the length only, so a guess learns nothing from timing.
bool secrets_equal(const std::string& a, const std::string& b);

class Sessions {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr const char* kCookie = "berth_session";
  static constexpr std::chrono::hours kLifetime{12};
  // Wrong tokens an address may give before it must wait, and the longest wait.
  static constexpr int kFreeFailures = 5;
  static constexpr std::chrono::seconds kMaxLockout{300};
  // Quiet after which an address's wrong tokens are forgotten.
  static constexpr std::chrono::minutes kForget{15};

  struct Opened {
    std::string id, csrf;
  };
  // `token`: the daemon's token, which signs in. `secure`: the API is served over TLS, so the
  // cookie is marked Secure.
  Sessions(std::string token, bool secure) : token_(std::move(token)), secure_(secure) {}

  bool right_token(const std::string& presented) const { return secrets_equal(presented, token_); }

  // A new session (the oldest is dropped past kMaxSessions).
  Opened open(Clock::time_point now);
  // The session the Cookie header names, if it is known and not expired: its CSRF token.
  std::optional<std::string> csrf_of(const std::string& cookie_header, Clock::time_point now);
  void close(const std::string& cookie_header);
  // Set-Cookie values that start and end a session.
  std::string set_cookie(const std::string& id) const;
  std::string clear_cookie() const;

  // How long `remote` must wait before its next sign-in attempt (zero: it may try now). Each
  // wrong token past kFreeFailures doubles the wait, from 1 s up to kMaxLockout; a right one
  // clears the count, and so does kForget without a wrong one.
  std::chrono::seconds wait_before_attempt(const std::string& remote, Clock::time_point now);
  void attempt_failed(const std::string& remote, Clock::time_point now);
  void attempt_succeeded(const std::string& remote) { failures_.erase(remote); }

  size_t open_sessions() const { return sessions_.size(); }

 private:
  static constexpr size_t kMaxSessions = 1024, kMaxAddresses = 4096;
  struct Session {
    std::string csrf;
    Clock::time_point expires;
  };
  struct Failures {
    int count = 0;
    Clock::time_point last, locked_until;
  };
  static std::string session_id(const std::string& cookie_header);

  std::string token_;
  bool secure_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, Failures> failures_;
};

}  // namespace berth::api

#include "api/sessions.h"

#include <algorithm>
#include <string_view>

#include "core/random_id.h"

namespace berth::api {

namespace {

// The oldest entry by `key(value)`: what goes when a map is full.
template <class Map, class Key>
void drop_oldest(Map& m, Key key) {
  auto oldest = std::min_element(m.begin(), m.end(),
                                 [&](auto& a, auto& b) { return key(a.second) < key(b.second); });
  if (oldest != m.end()) m.erase(oldest);
}

}  // namespace

bool secrets_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Sessions::Opened Sessions::open(Clock::time_point now) {
  std::erase_if(sessions_, [&](auto& kv) { return kv.second.expires <= now; });
  if (sessions_.size() >= kMaxSessions) drop_oldest(sessions_, [](auto& s) { return s.expires; });
  Opened o{random_hex(32), random_hex(32)};
  sessions_[o.id] = {o.csrf, now + kLifetime};
  return o;
}

std::string Sessions::session_id(const std::string& cookie_header) {
  // Cookie: a=1; berth_session=...; b=2
  std::string_view rest = cookie_header;
  const std::string_view name = kCookie;
  while (!rest.empty()) {
    auto semi = rest.find(';');
    auto pair = rest.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=')
      return std::string(pair.substr(name.size() + 1));
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return "";
}

std::optional<std::string> Sessions::csrf_of(const std::string& cookie_header,
                                             Clock::time_point now) {
  auto id = session_id(cookie_header);
  if (id.empty()) return std::nullopt;
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.csrf;
}

void Sessions::close(const std::string& cookie_header) {
  sessions_.erase(session_id(cookie_header));
}

std::string Sessions::set_cookie(const std::string& id) const {
  return std::string(kCookie) + "=" + id + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(std::chrono::seconds(kLifetime).count()) + (secure_ ? "; Secure" : "");
}

std::string Sessions::clear_cookie() const {
  return std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
         (secure_ ? "; Secure" : "");
}

std::chrono::seconds Sessions::wait_before_attempt(const std::string& remote,
                                                   Clock::time_point now) {
  auto it = failures_.find(remote);
  if (it == failures_.end()) return std::chrono::seconds(0);
  if (now - it->second.last > kForget) {
    failures_.erase(it);
    return std::chrono::seconds(0);
  }
  if (it->second.locked_until <= now) return std::chrono::seconds(0);
  // Rounded up: "wait 0 s" must never be said while the lock holds.
  return std::chrono::ceil<std::chrono::seconds>(it->second.locked_until - now);
}

void Sessions::attempt_failed(const std::string& remote, Clock::time_point now) {
  if (!failures_.contains(remote) && failures_.size() >= kMaxAddresses)
    drop_oldest(failures_, [](auto& f) { return f.last; });
  auto& f = failures_[remote];
  if (f.count > 0 && now - f.last > kForget) f = {};
  ++f.count;
  f.last = now;
  if (f.count > kFreeFailures) {
    const int doublings = std::min(f.count - kFreeFailures - 1, 16);
    f.locked_until =
        now + std::min<std::chrono::seconds>(kMaxLockout, std::chrono::seconds(1LL << doublings));
  }
}

}  // namespace berth::api

#include "integration/load_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::testing {
namespace {

// One request on a new connection: the body, or the reason it failed ("refused" for
// ECONNREFUSED). A server that never answers fails after 20 s (SO_RCVTIMEO).
bool one_request(uint16_t port, std::string& body, std::string& why) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    why = errno == ECONNREFUSED ? "refused" : std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  const std::string req = "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    why = std::string("send: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  const int err = n < 0 ? errno : 0;
  ::close(fd);
  auto head_end = got.find("\r\n\r\n");
  const bool ok200 = got.starts_with("HTTP/1.") && got.compare(8, 5, " 200 ") == 0;
  if (err || !ok200 || head_end == std::string::npos) {
    why = err ? std::string("read: ") + std::strerror(err)
              : "bad answer (" + std::to_string(got.size()) + " bytes)";
    return false;
  }
  body = got.substr(head_end + 4);
  return true;
}

}  // namespace

LoadClient::LoadClient(uint16_t port, int threads) : port_(port) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

LoadClient::~LoadClient() {
  stop();
}

void LoadClient::run() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::string body, why;
    const bool ok = one_request(port_, body, why);
    std::lock_guard lock(mu_);
    if (ok) {
      ++counts_.ok;
      ++counts_.bodies[body];
    } else {
      ++(why == "refused" ? counts_.refused : counts_.failed);
      if (counts_.failures.size() < 10) counts_.failures.push_back(why);
    }
    cv_.notify_all();
  }
}

void LoadClient::wait_for_more(uint64_t n) {
  std::unique_lock lock(mu_);
  const uint64_t target = counts_.ok + counts_.refused + counts_.failed + n;
  cv_.wait(lock, [&] { return counts_.ok + counts_.refused + counts_.failed >= target; });
}

void LoadClient::wait_for_body(const std::string& body) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return counts_.bodies.contains(body); });
}

LoadCounts LoadClient::counts() {
  std::lock_guard lock(mu_);
  return counts_;
}

LoadCounts LoadClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  return counts();
}

void expect_no_loss(const LoadCounts& c) {
  EXPECT_EQ(c.refused, 0u);
  EXPECT_EQ(c.failed, 0u);
  for (const auto& f : c.failures) ADD_FAILURE() << "request failed: " << f;
  EXPECT_GT(c.ok, 0u);
}

}  // namespace berth::testing

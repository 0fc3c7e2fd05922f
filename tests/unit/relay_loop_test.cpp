// RelayLoop (the [serve] proxy's data path) on real loopback TCP connections: the test holds
// the outer end of each pair with blocking calls while the loop relays on its own thread.
// Bytes pass whole and in order both ways, an end is passed on as a half close, a reset as a
// reset, and each relay is counted as answered exactly once.
#include "proc/relay_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <thread>

namespace berth {
namespace {

// A connected loopback TCP pair: {the end the test holds, the end the relay gets}.
std::pair<UniqueFd, UniqueFd> tcp_pair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  UniqueFd outer(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(outer.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  UniqueFd inner(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  EXPECT_TRUE(inner);
  return {std::move(outer), std::move(inner)};
}

void send_all(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// Everything until the end of the stream; `error` is the errno that ended it, 0 for a clean end.
std::string read_to_end(int fd, int* error = nullptr) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (error) *error = n < 0 ? errno : 0;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string read_exactly(int fd, size_t n) {
  std::string out(n, '\0');
  for (size_t off = 0; off < n;) {
    const ssize_t m = ::read(fd, out.data() + off, n - off);
    if (m <= 0) return out.substr(0, off);
    off += static_cast<size_t>(m);
  }
  return out;
}

class RelayLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = RelayLoop::create(io.get_executor(), [this](const std::string& backend) {
      std::lock_guard lock(mu);
      answered.push_back(backend);
      answered_cv.notify_all();
    });
    ASSERT_TRUE(made);
    loop = std::move(*made);
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    work.reset();
    io.stop();
    thread.join();
  }
  // A relay between the inner ends of two pairs; returns the outer ends {client, instance}.
  std::pair<UniqueFd, UniqueFd> relay(const std::string& backend = "127.0.0.2:80") {
    auto [client, client_in] = tcp_pair();
    auto [instance, instance_in] = tcp_pair();
    std::promise<void> added;
    boost::asio::post(io, [&, c = std::move(client_in), u = std::move(instance_in)]() mutable {
      loop->add(std::move(c), std::move(u), backend, nullptr);
      added.set_value();
    });
    added.get_future().wait();
    return {std::move(client), std::move(instance)};
  }
  std::vector<std::string> answered_once(size_t n) {
    std::unique_lock lock(mu);
    answered_cv.wait(lock, [&] { return answered.size() >= n; });
    return answered;
  }
  size_t relays() {
    std::promise<size_t> n;
    boost::asio::post(io, [&] { n.set_value(loop->size()); });
    return n.get_future().get();
  }

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<RelayLoop> loop;
  std::thread thread;
  std::mutex mu;
  std::condition_variable answered_cv;
  std::vector<std::string> answered;
};

TEST_F(RelayLoopTest, PassesARequestAndItsAnswerAndEachEndAsAHalfClose) {
  auto [client, instance] = relay("127.0.0.2:8080");
  send_all(client.get(), "GET / HTTP/1.0\r\n\r\n");
  ::shutdown(client.get(), SHUT_WR);
  int error = -1;
  EXPECT_EQ(read_to_end(instance.get(), &error), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(error, 0);  // the client's end, passed on as an end
  // The instance answers after the client's end: the other direction still runs.
  send_all(instance.get(), "HTTP/1.0 200 OK\r\n\r\nhello");
  ::shutdown(instance.get(), SHUT_WR);
  EXPECT_EQ(read_to_end(client.get(), &error), "HTTP/1.0 200 OK\r\n\r\nhello");
  EXPECT_EQ(error, 0);
  EXPECT_EQ(answered_once(1), std::vector<std::string>{"127.0.0.2:8080"});
  // Both ends passed on: the relay is over and its sockets are closed.
  EXPECT_EQ(read_to_end(instance.get(), &error), "");
  EXPECT_EQ(relays(), 0u);
}

TEST_F(RelayLoopTest, ManyRoundsOnOneConnectionAreCountedAsAnsweredOnce) {
  auto [client, instance] = relay();
  for (int i = 0; i < 200; ++i) {
    const std::string ask = "ask " + std::to_string(i) + "\n";
    const std::string say = "say " + std::to_string(i) + "\n";
    send_all(client.get(), ask);
    ASSERT_EQ(read_exactly(instance.get(), ask.size()), ask);
    send_all(instance.get(), say);
    ASSERT_EQ(read_exactly(client.get(), say.size()), say);
  }
  client.reset();
  instance.reset();
  EXPECT_EQ(answered_once(1).size(), 1u);
}

// Bulk streams go through a pipe (splice) once a read fills the copy buffer; the reader here
// takes them only as fast as it reads, so the relay also waits for room.
TEST_F(RelayLoopTest, BulkStreamsBothWaysArriveWholeAndInOrder) {
  auto [client, instance] = relay();
  std::string up(3 << 20, '\0'), down(5 << 20, '\0');
  for (size_t i = 0; i < up.size(); ++i) up[i] = static_cast<char>(i * 7 + i / 4093);
  for (size_t i = 0; i < down.size(); ++i) down[i] = static_cast<char>(i * 13 + i / 65537);
  std::thread upload([&, fd = client.get()] {
    send_all(fd, up);
    ::shutdown(fd, SHUT_WR);
  });
  std::thread answer([&, fd = instance.get()] {
    send_all(fd, down);
    ::shutdown(fd, SHUT_WR);
  });
  std::string got_down;
  std::thread download([&, fd = client.get()] { got_down = read_to_end(fd); });
  const std::string got_up = read_to_end(instance.get());
  upload.join();
  answer.join();
  download.join();
  EXPECT_EQ(got_up.size(), up.size());
  EXPECT_TRUE(got_up == up);
  EXPECT_EQ(got_down.size(), down.size());
  EXPECT_TRUE(got_down == down);
}

// A reset is not an end: a cut-off answer must not pass for a whole one.
TEST_F(RelayLoopTest, AResetOnOneSideResetsTheOther) {
  auto [client, instance] = relay();
  send_all(instance.get(), "partial answ");
  ASSERT_EQ(read_exactly(client.get(), 12), "partial answ");
  close_with_reset(std::move(instance));
  int error = 0;
  read_to_end(client.get(), &error);
  EXPECT_EQ(error, ECONNRESET);
  EXPECT_EQ(relays(), 0u);
}

TEST_F(RelayLoopTest, ARelayEndedWithNoAnswerIsCountedAsAnsweredAtItsEnd) {
  auto [client, instance] = relay("127.0.0.3:9");
  client.reset();
  int error = -1;
  EXPECT_EQ(read_to_end(instance.get(), &error), "");
  EXPECT_EQ(error, 0);
  instance.reset();
  EXPECT_EQ(answered_once(1), std::vector<std::string>{"127.0.0.3:9"});
}

}  // namespace
}  // namespace berth

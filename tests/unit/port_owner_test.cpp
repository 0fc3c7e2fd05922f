// Who holds a port: this test process listens, and /proc must say so (and say it of no one
// else), on a specific address and on the wildcard.
#include "proc/port_owner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/unique_fd.h"

namespace berth {
namespace {

// A listening socket on address:0; its port in `port`.
UniqueFd listen_at(const char* address, uint16_t& port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, address, &sa.sin_addr);
  socklen_t len = sizeof sa;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(fd.get(), 4) != 0)
    return UniqueFd();
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  return fd;
}

// The inode of the socket behind `fd` (/proc/self/fd/N links to "socket:[INODE]").
uint64_t socket_inode(int fd) {
  std::error_code ec;
  const auto link =
      std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
  const auto open = link.find('[');
  return open == std::string::npos ? 0 : std::stoull(link.substr(open + 1));
}

TEST(PortOwner, ASocketThisProcessListensOnIsFoundAndItsHolderIsThisProcess) {
  uint16_t port = 0;
  auto fd = listen_at("127.0.0.1", port);
  ASSERT_TRUE(fd) << "cannot listen on loopback";
  // Ours is among them (a test running beside this one may hold a wildcard socket on the same
  // port number: that is found too, and is not ours).
  const uint64_t ours = socket_inode(fd.get());
  auto sockets = listening_sockets("127.0.0.1", port);
  ASSERT_NE(std::find(sockets.begin(), sockets.end(), ours), sockets.end());
  EXPECT_TRUE(holds_any({::getpid()}, {ours}));
  auto holder = port_holder({ours});
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->pid, ::getpid());
  EXPECT_NE(holder->command.find("berth_unit_tests"), std::string::npos) << holder->command;
  // Another loopback address: that socket is not listening there.
  EXPECT_TRUE(listening_sockets("127.0.0.2", port).empty());
}

TEST(PortOwner, AWildcardListenerCountsForEveryAddress) {
  uint16_t port = 0;
  auto fd = listen_at("0.0.0.0", port);
  ASSERT_TRUE(fd);
  EXPECT_EQ(listening_sockets("127.0.0.3", port).size(), 1u);
}

TEST(PortOwner, AProcessWithoutTheSocketDoesNotHoldIt) {
  uint16_t port = 0;
  auto fd = listen_at("127.0.0.1", port);
  ASSERT_TRUE(fd);
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::execlp("sleep", "sleep", "60", nullptr);  // exec closes the CLOEXEC socket
    ::_exit(127);
  }
  // The child's fds are read after its exec: the pipe's write end closing says it happened.
  ::close(go[1]);
  char c;
  (void)::read(go[0], &c, 1);
  ::close(go[0]);
  EXPECT_FALSE(holds_any({child}, listening_sockets("127.0.0.1", port)));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST(PortOwner, NothingListeningIsNoSocketsAndNoHolder) {
  uint16_t port = 0;
  { auto fd = listen_at("127.0.0.1", port); }  // closed: the port is free again
  auto sockets = listening_sockets("127.0.0.1", port);
  EXPECT_TRUE(sockets.empty());
  EXPECT_FALSE(port_holder(sockets));
  EXPECT_TRUE(listening_sockets("not an address", port).empty());
}

}  // namespace
}  // namespace berth

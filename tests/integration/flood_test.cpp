// Hostile clients against the API server: a flood past the fd limit, connections over the
// cap, strangers that connect and say nothing, and malformed or short requests. None of them
// may stop the daemon serving once they are gone, spin its loop or fill its log.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <memory>
#include <thread>

#include "core/fs_util.h"
#include "harness.h"
#include "proc/proc_stat.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// CPU seconds the process has used (user + system), from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat").value_or("");
  auto close = text.rfind(')');
  std::vector<std::string> f;
  for (size_t i = close + 2, j; i < text.size(); i = j + 1) {
    j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    f.push_back(text.substr(i, j - i));
  }
  // Fields 14 and 15 of stat(5); f[0] is field 3.
  return (std::stod(f.at(11)) + std::stod(f.at(12))) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// `n` connections that send nothing, held open until destroyed.
std::vector<std::unique_ptr<RawConnection>> idle_connections(uint16_t port, int n) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;  // the test itself needs the descriptors
  ::setrlimit(RLIMIT_NOFILE, &lim);
  std::vector<std::unique_ptr<RawConnection>> out;
  for (int i = 0; i < n; ++i) out.push_back(std::make_unique<RawConnection>(port));
  return out;
}

bool healthy(TestDaemon& d) {
  http::Client c("127.0.0.1", d.port(), "");
  auto r = c.request("GET", "/healthz", "", 2s);
  return r && r->status == 200;
}

// 400 connections against a daemon allowed 64 descriptors and a connection cap it cannot
// honour: accept fails with EMFILE over and over. It once spun at 100% CPU and logged every
// failure (665 MB in 25 s); now it sheds, backs off, logs a line, and serves when it is over.
TEST(Flood, RunningOutOfDescriptorsNeitherSpinsNorFillsTheLog) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  d.limit_fds(64);
  d.write_config("[http]\nmax_connections = 100000\n");
  d.start();
  const auto log = d.home() / "daemon.log";
  const uint64_t log_before = size_of(log);
  const double cpu_before = cpu_seconds(d.pid());
  auto flood = idle_connections(d.port(), 400);
  const auto window = 2s;  // the flood is held this long: the measurement's window
  std::this_thread::sleep_for(window);
  const double cpu = cpu_seconds(d.pid()) - cpu_before;
  const uint64_t logged = size_of(log) - log_before;
  flood.clear();
  EXPECT_LT(cpu, 0.5 * std::chrono::duration<double>(window).count()) << "the accept loop spins";
  EXPECT_LT(logged, 16u * 1024) << read_tail(log, 2000);
  EXPECT_TRUE(poll_until([&] { return healthy(d); }));
  EXPECT_EQ(d.api("GET", "/v1/components").status, 200);
}

// Over the cap (half of 64 descriptors) a new connection gets a 503 at once, not a hang; below
// it again, requests are served.
TEST(Flood, ConnectionsOverTheCapGetA503) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  d.limit_fds(64);
  d.start();
  auto held = idle_connections(d.port(), 32);
  RawConnection extra(d.port());
  extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto reply = extra.read_to_close();
  EXPECT_NE(reply.find("HTTP/1.1 503"), std::string::npos) << reply;
  EXPECT_NE(reply.find("too_many_connections"), std::string::npos) << reply;
  held.clear();
  EXPECT_TRUE(poll_until([&] { return healthy(d); }));
}

// A stranger that connects and sends nothing is dropped after header_timeout; one that sends
// a request without the token gets its 401 and the connection closed. A client with the token
// keeps its connection between requests far longer.
TEST(Flood, StrangersAreDroppedSoonerThanTrustedClients) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  d.write_config("[http]\nheader_timeout = \"200ms\"\nidle_timeout = \"60s\"\n");
  d.start();
  RawConnection silent(d.port());
  EXPECT_EQ(silent.read_to_close(), "");  // closed by the daemon: the event this waits for

  RawConnection stranger(d.port());
  stranger.send("GET /v1/components HTTP/1.1\r\nHost: x\r\n\r\n");
  auto refused = stranger.read_to_close();
  EXPECT_NE(refused.find("401"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;

  RawConnection friend_(d.port());
  const std::string ask =
      "GET /v1/components HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + d.token() + "\r\n\r\n";
  friend_.send(ask);
  EXPECT_NE(friend_.read_response().find("200 OK"), std::string::npos);
  std::this_thread::sleep_for(600ms);  // three header timeouts: a stranger would be gone
  friend_.send(ask);
  EXPECT_NE(friend_.read_response().find("200 OK"), std::string::npos);
}

// Requests Beast cannot parse get a 400 `bad_request` before the close (they used to get the
// close alone).
TEST(Flood, MalformedRequestsGetA400) {
  static constexpr char kNulRaw[] = "GET /healthz HTTP/1.1\r\nHost: x\0y\r\n\r\n";
  const std::string kNulHeader(kNulRaw, sizeof kNulRaw - 1);
  TestDaemon d;
  const std::string auth = "Authorization: Bearer " + d.token() + "\r\n";
  const std::vector<std::string> bad = {
      "GET /healthz HTTP/1.1\nHost: x\n\n",  // bare LF
      kNulHeader,                            // NUL in a header
      "POST /v1/reconcile HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 1x\r\n\r\n",
      "POST /v1/reconcile HTTP/1.1\r\nHost: x\r\n" + auth +
          "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",  // bad chunk size
      "GET /healthz HTTP/9\r\n\r\n",
  };
  for (const auto& req : bad) {
    RawConnection c(d.port());
    c.send(req);
    auto reply = c.read_to_close();
    EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << req << "\n--> " << reply;
    EXPECT_NE(reply.find("bad_request"), std::string::npos) << reply;
  }
  EXPECT_TRUE(healthy(d));
}

// A body shorter than its Content-Length: answered 400 when the client has finished sending,
// 408 after io_timeout when it just stops (it used to wait 30 s and answer nothing).
TEST(Flood, ShortBodiesAreAnswered) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  d.write_config("[http]\nio_timeout = \"300ms\"\n");
  d.start();
  const std::string head = "POST /v1/reconcile HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           d.token() +
                           "\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{";
  RawConnection ended(d.port());
  ended.send(head);
  ended.shutdown_write();
  auto r1 = ended.read_to_close();
  EXPECT_NE(r1.find("HTTP/1.1 400"), std::string::npos) << r1;
  RawConnection stalled(d.port());
  stalled.send(head);
  auto r2 = stalled.read_to_close();
  EXPECT_NE(r2.find("HTTP/1.1 408"), std::string::npos) << r2;
  EXPECT_NE(r2.find("request_timeout"), std::string::npos) << r2;
}

}  // namespace
}  // namespace berth::testing

#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "cli/connection.h"
#include "config/home.h"
#include "core/fs_util.h"
#include "proc/proc_stat.h"

namespace berth::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

uint16_t free_port() {
  // Below the kernel's ephemeral range (32768 and up by default), so no outgoing connection
  // takes it between this check and the bind of whoever asked; and never the same port twice
  // in one test process (bind-to-0-and-close hands the same one out again at once).
  static std::set<uint16_t> handed_out;
  static std::mt19937 rng(std::random_device{}());
  for (;;) {
    const auto port = static_cast<uint16_t>(std::uniform_int_distribution<int>(20000, 32000)(rng));
    if (handed_out.contains(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    if (free && handed_out.insert(port).second) return port;
  }
}

const char* berth_binary() {
  const char* chosen = std::getenv("BERTH_TEST_BINARY");
  return chosen && *chosen ? chosen : BERTH_BUILT_BIN;
}

bool pid_alive(pid_t pid) {
  auto st = read_proc_stat(pid);
  return st && st->state != 'Z' && st->state != 'X';
}

pid_t read_pidfile(const fs::path& p) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!fs::exists(p)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "pidfile never appeared: " << p;
      return 0;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_t pid = 0;
  std::ifstream(p) >> pid;
  return pid;
}

CmdResult run_command(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env) {
  int out[2], err[2];
  EXPECT_EQ(::pipe(out), 0);
  EXPECT_EQ(::pipe(err), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Never the test's terminal: a command must not wait for keys (berth top) or a prompt.
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  CmdResult r;
  // Drain both pipes without deadlock: stderr is small, read stdout first then stderr.
  auto drain = [](int fd, std::string& s) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    ::close(fd);
  };
  std::thread t([&] { drain(err[0], r.err); });
  drain(out[0], r.out);
  t.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string pidfile_install(const fs::path& pidfile) {
  const std::string p = pidfile.string();
  return "[install]\ncommand = \"echo $$ > " + p + ".tmp; mv " + p + ".tmp " + p +
         "; exec sleep 600\"\n";
}

std::string gated_install(const fs::path& started, const fs::path& gate) {
  const std::string s = started.string();
  return "[install]\ncommand = \"echo $$ > " + s + ".tmp; mv " + s + ".tmp " + s +
         "; while [ ! -e " + gate.string() + " ]; do sleep 0.01; done\"\n";
}

std::string fixture_command(const std::vector<std::string>& actions) {
  json a = json::array();
  a.push_back(FIXTURE_BIN);
  for (auto& x : actions) a.push_back(x);
  return a.dump();
}

TestDaemon::TestDaemon(std::map<std::string, std::string> env, Start when) : env_(std::move(env)) {
  if (when == Start::kNow) start();
}

std::string TestDaemon::use_small_disk(const std::string& size) {
  if (::mount("tmpfs", home_.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              ("size=" + size + ",mode=0700").c_str()) != 0)
    return std::string("cannot mount a tmpfs (needs root): ") + std::strerror(errno);
  mounted_ = true;
  return "";
}

void TestDaemon::write_config(const std::string& toml) {
  std::ofstream(home_.path / "config.toml") << toml;
}

RawConnection::RawConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  timeval tv{60, 0};  // a guard against a hung test, not a measurement
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void RawConnection::send(const std::string& bytes) {
  EXPECT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

void RawConnection::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

std::string RawConnection::read_to_close() {
  std::string out = std::move(pending_);
  pending_.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ADD_FAILURE() << "no close in 60 s";
    return out;
  }
}

std::string RawConnection::read_response() {
  char buf[4096];
  for (;;) {
    auto end = pending_.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t body = 0;
      auto cl = pending_.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) body = std::stoul(pending_.substr(cl + 16));
      if (pending_.size() >= end + 4 + body) {
        std::string r = pending_.substr(0, end + 4 + body);
        pending_.erase(0, end + 4 + body);
        return r;
      }
    }
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      std::string r = std::move(pending_);
      pending_.clear();
      return r;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

fs::path fill_disk(const fs::path& dir) {
  auto path = dir / "filler";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  static const std::string block(64 * 1024, 'x');
  for (size_t len = block.size(); len > 0;) {
    if (::write(fd, block.data(), len) < 0) len /= 2;  // the last blocks, smaller and smaller
  }
  ::close(fd);
  return path;
}

TestDaemon::~TestDaemon() {
  // A failing test shows what the daemon said last (its home is removed with the test).
  if (::testing::Test::HasFailure())
    std::fprintf(stderr, "---- daemon.log (tail) ----\n%s\n",
                 read_tail(home_.path / "daemon.log", 6000).c_str());
  if (pid_ > 0 && pid_alive(pid_)) {
    ::kill(pid_, SIGTERM);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (mounted_) ::umount2(home_.path.c_str(), MNT_DETACH);
}

std::map<std::string, std::string> TestDaemon::env() const {
  // No [deploy] healthy_for window unless a test's manifest sets one: hundreds of deploys
  // would each wait the daemon's default 5 s.
  std::map<std::string, std::string> e = {
      {"BERTH_HOME", home_.path.string()}, {"BERTH_PORT", "0"}, {"BERTH_HEALTHY_FOR", "0s"}};
  for (auto& [k, v] : env_) e[k] = v;
  return e;
}

void TestDaemon::start() {
  std::error_code ec;
  fs::remove(home_.path / "daemon.json", ec);
  auto log = (home_.path / "daemon.log").string();
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (nofile_) {
      rlimit lim{nofile_, nofile_};
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    for (auto& [k, v] : env()) ::setenv(k.c_str(), v.c_str(), 1);
    if (!cgroup_.empty()) {
      int cfd = ::open((cgroup_ / "cgroup.procs").c_str(), O_WRONLY);
      if (cfd < 0 || ::write(cfd, "0", 1) != 1) ::_exit(126);
      ::close(cfd);
    }
    ::execl(BERTH_BIN, BERTH_BIN, "daemon", nullptr);
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto info = read_daemon_info(home_.path);
    if (info && info->pid == pid_) {
      auto c = cli::client_for(*info, "");  // as the CLI finds it: plain, or TLS
      if (!c) FAIL() << c.error().message;
      auto r = (*c)->request("GET", "/healthz", "", 2s);
      if (r && r->status == 200) return;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      FAIL() << "daemon exited during start: " << read_file(log).value_or("");
    }
    if (std::chrono::steady_clock::now() > deadline)
      FAIL() << "daemon not healthy: " << read_file(log).value_or("");
    std::this_thread::sleep_for(5ms);
  }
}

void TestDaemon::kill9() {
  // Never kill(0): that is the test's whole process group (ctest, etcd, every daemon).
  ASSERT_GT(pid_, 0) << "kill9 of a daemon that is not running";
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

int TestDaemon::shutdown() {
  auto r = cli({"shutdown"});
  int status;
  if (pid_ > 0) ::waitpid(pid_, &status, 0);
  pid_ = 0;
  return r.code;
}

int TestDaemon::terminate() {
  int status = 0;
  EXPECT_GT(pid_, 0) << "terminate of a daemon that is not running";
  if (pid_ <= 0) return status;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
  return status;
}

uint16_t TestDaemon::port() const {
  return read_daemon_info(home_.path).value().port;
}
std::string TestDaemon::token() const {
  return read_token(home_.path).value();
}

fs::path TestDaemon::component(const std::string& name, const std::string& toml) {
  auto dir = work_.path / name;
  fs::create_directories(dir);
  std::ofstream(dir / "berth.toml") << toml;
  return dir;
}

::testing::AssertionResult TestDaemon::arm(const std::string& name, const std::string& spec) {
  auto r = api("PUT", "/v1/debug/failpoints/" + name, json{{"error", spec}}.dump());
  if (r.status == 200) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "arming " << name << "=" << spec << ": " << r.status << " " << r.body.dump();
}

int TestDaemon::failpoint_hits(const std::string& name) {
  for (auto& a : api("GET", "/v1/debug/failpoints").body.value("armed", json::array()))
    if (a.value("name", "") == name) return a.value("failed", 0);
  return -1;
}

ApiResult TestDaemon::api(const std::string& method, const std::string& target,
                          const std::string& body) {
  auto c = cli::client_for(read_daemon_info(home_.path).value(), token());
  if (!c) {
    ADD_FAILURE() << c.error().message;
    return {};
  }
  auto r = (*c)->request(method, target, body);
  if (!r) {
    ADD_FAILURE() << method << " " << target << ": " << r.error().message;
    return {};
  }
  return {r->status, json::parse(r->body, nullptr, false)};
}

CmdResult TestDaemon::cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BERTH_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, env());
}

json TestDaemon::wait_for(const std::string& name, const std::function<bool(const json&)>& pred,
                          std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  json last;
  for (;;) {
    auto r = api("GET", "/v1/components/" + name);
    last = r.body;
    if (r.status == 200 && pred(r.body)) return r.body;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "condition not reached for " << name << "; last status: " << last.dump();
      return last;
    }
    std::this_thread::sleep_for(10ms);
  }
}

std::string live_release(TestDaemon& d, const std::string& name) {
  std::error_code ec;
  return std::filesystem::read_symlink(d.home() / "components" / name, ec).filename().string();
}

json deployment(TestDaemon& d, const std::string& id) {
  return d.api("GET", "/v1/deployments/" + id).body;
}

json wait_deployment(TestDaemon& d, const std::string& id,
                     const std::function<bool(const json&)>& pred) {
  auto deadline = std::chrono::steady_clock::now() + 120s;
  json last;
  for (;;) {
    last = deployment(d, id);
    if (pred(last)) return last;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "deployment " << id << " never reached the condition: " << last.dump();
      return last;
    }
    std::this_thread::sleep_for(5ms);
  }
}

json wait_ended(TestDaemon& d, const std::string& id) {
  return wait_deployment(d, id, [](const json& j) { return j.value("status", "") != "running"; });
}

std::string deploy_no_follow(TestDaemon& d, const std::filesystem::path& dir,
                             const std::string& name) {
  auto r = d.cli({"deploy", dir.string(), "--name", name, "--no-follow"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::string id = r.out;
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

bool poll_until(const std::function<bool()>& ok) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!ok()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace berth::testing

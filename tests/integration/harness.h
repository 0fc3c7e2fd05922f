// Integration harness: a real `berth daemon` in a temporary home on an ephemeral port, the real
// CLI, and component directories whose commands run the fixture binary.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/client.h"
#include "support/temp_dir.h"

namespace berth::testing {

using json = nlohmann::json;

// The berth binary under test: $BERTH_TEST_BINARY when set (`make test SAN=1` points this
// build's tests at the sanitized berth), else the one this build made (BERTH_BUILT_BIN).
const char* berth_binary();
#define BERTH_BIN ::berth::testing::berth_binary()

using test::TempDir;

struct CmdResult {
  int code = -1;
  std::string out, err;
};

struct ApiResult {
  int status = 0;
  json body;
};

// A TCP port nothing listens on right now, below the ephemeral range, never handed out twice.
uint16_t free_port();
// Alive and not a zombie.
bool pid_alive(pid_t pid);
// Reads a pid written by the fixture's pidfile action (waits for the file up to 30 s).
pid_t read_pidfile(const std::filesystem::path& p);
// Runs a command with extra environment, capturing stdout and stderr.
CmdResult run_command(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env);
// An [install] table whose installer writes its pid to PIDFILE (atomically) and then sleeps,
// for tests that need a deploy held in its install phase.
std::string pidfile_install(const std::filesystem::path& pidfile);
// An [install] table whose installer writes its pid to STARTED, then waits until GATE exists:
// a deploy held in its install phase exactly as long as the test wants, no sleeping.
std::string gated_install(const std::filesystem::path& started, const std::filesystem::path& gate);
// Quotes fixture actions into a TOML argv array: ["/path/fixture", "print:hi", ...].
std::string fixture_command(const std::vector<std::string>& actions);

// Polls until `ok` holds; false after 60 s (the caller fails the test).
bool poll_until(const std::function<bool()>& ok);

class TestDaemon {
 public:
  enum class Start { kNow, kLater };
  explicit TestDaemon(std::map<std::string, std::string> env = {}, Start when = Start::kNow);
  ~TestDaemon();

  void start();
  // Before start(): puts the home on a tmpfs of `size` ("8m"), so tests can fill the disk.
  // Empty when that is possible (root), else why not (the test skips with it).
  std::string use_small_disk(const std::string& size);
  // Before start(): the daemon runs with this RLIMIT_NOFILE (soft and hard).
  void limit_fds(unsigned n) { nofile_ = n; }
  // Before start(): one more environment variable for the daemon.
  void set_env(const std::string& key, const std::string& value) { env_[key] = value; }
  // Before start(): the daemon is started inside this cgroup v2 group (as a unit's would be).
  void start_in_cgroup(const std::filesystem::path& group) { cgroup_ = group; }
  // Before start(): HOME/config.toml.
  void write_config(const std::string& toml);
  void kill9();     // SIGKILL, reaped
  int shutdown();   // `berth shutdown`; returns its exit code
  int terminate();  // SIGTERM; returns the daemon's wait status

  const std::filesystem::path& home() const { return home_.path; }
  const std::filesystem::path& work() const { return work_.path; }
  pid_t pid() const { return pid_; }
  uint16_t port() const;
  std::string token() const;
  std::map<std::string, std::string> env() const;

  // Writes work()/NAME/berth.toml with `toml` and returns the directory.
  std::filesystem::path component(const std::string& name, const std::string& toml);
  ApiResult api(const std::string& method, const std::string& target, const std::string& body = "");
  CmdResult cli(const std::vector<std::string>& args);
  // Arms failpoint `name` with `spec` ("ECONNRESET*1"); the daemon's answer when it refuses.
  ::testing::AssertionResult arm(const std::string& name, const std::string& spec);
  // The hits failpoint `name` failed since it was armed; -1 when it is not armed.
  int failpoint_hits(const std::string& name);
  // Polls the component's status until pred holds; fails the test after 60 s.
  json wait_for(const std::string& name, const std::function<bool(const json&)>& pred,
                std::chrono::seconds limit = std::chrono::seconds(60));
  json wait_state(const std::string& name, const std::string& state) {
    return wait_for(name, [&](const json& s) { return s.value("state", "") == state; });
  }

 private:
  TempDir home_, work_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = 0;
  bool mounted_ = false;
  unsigned nofile_ = 0;
  std::filesystem::path cgroup_;
};

// A plain TCP connection to the daemon, for requests the HTTP client cannot or will not send.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);  // blocking; fails the test if it cannot connect
  ~RawConnection();
  void send(const std::string& bytes);
  void shutdown_write();
  // Reads until the server closes (EOF or reset); fails the test after 60 s.
  std::string read_to_close();
  // Reads one whole response (head + Content-Length body).
  std::string read_response();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string pending_;
};

// Fills the filesystem holding `dir` with a file there until writes fail; returns its path.
std::filesystem::path fill_disk(const std::filesystem::path& dir);

// The release components/NAME points at now ("" when it points nowhere).
std::string live_release(TestDaemon& d, const std::string& name);

// Deployments through the API and the CLI.
json deployment(TestDaemon& d, const std::string& id);
// Polls the deployment record until `pred` holds; fails the test after 120 s.
json wait_deployment(TestDaemon& d, const std::string& id,
                     const std::function<bool(const json&)>& pred);
json wait_ended(TestDaemon& d, const std::string& id);  // until its status is not `running`
// `berth deploy DIR --name NAME --no-follow`; returns the deployment id.
std::string deploy_no_follow(TestDaemon& d, const std::filesystem::path& dir,
                             const std::string& name);

}  // namespace berth::testing

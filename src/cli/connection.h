// Finding the daemon for a CLI command: read $BERTH_HOME/daemon.json and the token, check
// /healthz, and start `berth daemon` in the background when none answers (as pm2 does).
#pragma once
#include <filesystem>
#include <memory>

#include "config/home.h"
#include "core/error.h"
#include "http/client.h"

namespace berth::cli {

struct Connection {
  std::unique_ptr<http::Client> client;
  int daemon_pid = 0;
};

// With autostart, a missing daemon is started and awaited (healthy within 15 s).
Result<Connection> connect(const std::filesystem::path& home, bool autostart);

// A client for the daemon that daemon.json describes: plain, or TLS verified with its CA.
Result<std::unique_ptr<http::Client>> client_for(const DaemonInfo& info, std::string token);

}  // namespace berth::cli

// `berth top`: pm2 monit's job, a live table of every component (state, pid, uptime,
// restarts, CPU, memory) refreshed every second in the terminal; `q` or Ctrl-C quits and
// leaves the terminal as it was.
#pragma once
#include "http/client.h"

namespace berth::cli {

// `interval_ms`: between refreshes. Without a terminal on stdin it prints the table once.
int cmd_top(http::Client& client, bool color, int interval_ms = 1000);

}  // namespace berth::cli

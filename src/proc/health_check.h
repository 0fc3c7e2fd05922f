// One [health] probe of a running tree: an HTTP GET (healthy on 2xx or 3xx) or a TCP connect
// to address:port, ended by the spec's timeout. The command kind needs a process tree and
// runs in host/component. On the event-loop thread.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "proc/specs.h"

namespace berth {

// Ok when healthy, else `unhealthy` with what was seen (refused, timed out, the status).
boost::asio::awaitable<Result<void>> probe_health(const HealthSpec& spec, std::string address,
                                                  uint16_t port);

}  // namespace berth

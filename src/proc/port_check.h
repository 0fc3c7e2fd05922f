// TCP port checks on loopback: is something listening (readiness), is a port free (after stop).
#pragma once
#include <cstdint>
#include <string>

namespace berth {

// True when nothing listens on address:port (a bind with SO_REUSEADDR succeeds). Sockets in
// TIME_WAIT do not count as taken.
bool port_is_free(const std::string& address, uint16_t port);

}  // namespace berth

// Server-sent events from a peer (a cluster origin follows its peers' logs): the same events
// however the stream was cut, never a crash. Input: chunk size (1 byte), then the stream.
#include <string>
#include <tuple>
#include <vector>

#include "fuzz_input.h"
#include "http/sse_decoder.h"

namespace {

using Events = std::vector<std::tuple<std::string, std::string, std::string>>;

Events decode(std::string_view stream, size_t chunk) {
  Events out;
  berth::http::SseDecoder d([&](const berth::http::SseEvent& e) {
    out.emplace_back(e.id, e.type, e.data);
    return true;
  });
  for (size_t i = 0; i < stream.size(); i += chunk) d.feed(stream.substr(i, chunk));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  const size_t chunk = 1 + in.byte() % 16;
  const std::string_view stream = in.rest();
  FUZZ_CHECK(decode(stream, chunk) == decode(stream, stream.size() + 1));
  return 0;
}

// What etcd's JSON gateway sends back (or a proxy, or a member mid-crash): every decoder gives
// a value or a coded error, never a crash or an escaping exception; base64 round-trips any bytes.
#include "cluster/etcd_codec.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)berth::etcd::parse_range(body);
  (void)berth::etcd::parse_txn(body);
  (void)berth::etcd::parse_revision(body);
  (void)berth::etcd::parse_grant(body);
  (void)berth::etcd::parse_keepalive(body);
  (void)berth::etcd::parse_watch(body);
  (void)berth::etcd::unbase64(body);
  auto back = berth::etcd::unbase64(berth::etcd::base64(body));
  FUZZ_CHECK(back && *back == body);
  return 0;
}

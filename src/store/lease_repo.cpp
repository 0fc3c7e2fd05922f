#include "store/lease_repo.h"

#include <arpa/inet.h>

#include <set>

namespace berth {
namespace {

uint32_t to_u32(const std::string& a) {
  in_addr ia{};
  inet_pton(AF_INET, a.c_str(), &ia);
  return ntohl(ia.s_addr);
}

std::string to_text(uint32_t v) {
  in_addr ia{htonl(v)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &ia, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::string> LeaseRepo::acquire(const std::string& component, int instance,
                                       const std::string& first, const std::string& last) {
  Tx tx(db_);
  if (!tx) return fail("store_error", "cannot begin lease transaction");
  auto mine = db_.prepare("SELECT address FROM leases WHERE component = ?1 AND instance = ?2");
  if (!mine) return std::unexpected(mine.error());
  mine->bind(1, component).bind(2, instance);
  if (mine->step()) return mine->text_col(0);
  auto taken_q = db_.prepare("SELECT address FROM leases");
  if (!taken_q) return std::unexpected(taken_q.error());
  std::set<uint32_t> taken;
  while (taken_q->step()) taken.insert(to_u32(taken_q->text_col(0)));
  for (uint32_t a = to_u32(first); a <= to_u32(last); ++a) {
    if (taken.contains(a)) continue;
    auto ins = db_.prepare("INSERT INTO leases (address, component, instance) VALUES (?1, ?2, ?3)");
    if (!ins) return std::unexpected(ins.error());
    if (auto r = ins->bind(1, to_text(a)).bind(2, component).bind(3, instance).run(); !r)
      return std::unexpected(r.error());
    if (auto r = tx.commit(); !r) return std::unexpected(r.error());
    return to_text(a);
  }
  return fail("no_free_address",
              "every loopback address in the lease range " + first + "-" + last + " is leased");
}

Result<void> LeaseRepo::release(const std::string& component, int instance) {
  auto s = db_.prepare("DELETE FROM leases WHERE component = ?1 AND instance = ?2");
  if (!s) return std::unexpected(s.error());
  return s->bind(1, component).bind(2, instance).run();
}

}  // namespace berth

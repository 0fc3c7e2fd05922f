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
  if (!tx) return fail(Code::kStoreError, "cannot begin lease transaction");
  auto mine = db_.prepare("SELECT address FROM leases WHERE component = ?1 AND instance = ?2");
  BERTH_TRY(mine);
  mine->bind(1, component).bind(2, instance);
  if (mine->step()) return mine->text_col(0);
  auto taken_q = db_.prepare("SELECT address FROM leases");
  BERTH_TRY(taken_q);
  std::set<uint32_t> taken;
  while (taken_q->step()) taken.insert(to_u32(taken_q->text_col(0)));
  for (uint32_t a = to_u32(first); a <= to_u32(last); ++a) {
    if (taken.contains(a)) continue;
    auto ins = db_.prepare("INSERT INTO leases (address, component, instance) VALUES (?1, ?2, ?3)");
    BERTH_TRY(ins);
    BERTH_TRY(ins->bind(1, to_text(a)).bind(2, component).bind(3, instance).run());
    BERTH_TRY(tx.commit());
    return to_text(a);
  }
  return fail(Code::kNoFreeAddress,
              "every loopback address in the lease range " + first + "-" + last + " is leased");
}

Result<void> LeaseRepo::release(const std::string& component, int instance) {
  auto s = db_.prepare("DELETE FROM leases WHERE component = ?1 AND instance = ?2");
  BERTH_TRY(s);
  return s->bind(1, component).bind(2, instance).run();
}

}  // namespace berth

#include "core/failpoint.h"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <utility>

namespace berth::failpoint {
namespace {

// The errors a disk, the kernel or a peer really gives at these seams.
constexpr std::pair<std::string_view, int> kErrors[] = {
    {"ENOSPC", ENOSPC},
    {"EDQUOT", EDQUOT},
    {"EIO", EIO},
    {"EROFS", EROFS},
    {"EMFILE", EMFILE},
    {"ENFILE", ENFILE},
    {"ENOMEM", ENOMEM},
    {"EACCES", EACCES},
    {"EAGAIN", EAGAIN},
    {"ECONNREFUSED", ECONNREFUSED},
    {"ECONNRESET", ECONNRESET},
    {"ETIMEDOUT", ETIMEDOUT},
};

struct Registry {
  std::mutex mu;
  std::vector<Armed> armed;
  // The fast path of every unarmed hit: one relaxed load.
  std::atomic<bool> any{false};
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::string errno_name(int err) {
  for (const auto& [text, value] : kErrors)
    if (value == err) return std::string(text);
  return std::to_string(err);
}

bool compiled_in() {
#ifdef BERTH_NO_FAILPOINTS
  return false;
#else
  return true;
#endif
}

const std::vector<std::string_view>& names() {
  static const std::vector<std::string_view> all = {
      "fs.write",        // write_file_atomic: the write (fs.fsync: its fsync)
      "fs.fsync",        //
      "archive.write",   // extraction: a file's contents
      "archive.sync",    // extraction: the final syncfs
      "blob.write",      // an uploaded payload on its way to disk (blob.fsync: its fsync)
      "blob.fsync",      //
      "store.write",     // any SQLite statement that writes
      "http.accept",     // the API's accept
      "proc.spawn",      // the first pipe a new process tree needs
      "etcd.request",    // any request to the etcd gateway (refused before it is sent)
      "etcd.txn_reply",  // a txn carried out by etcd whose reply never comes back
      "etcd.txn_hold",   // a txn's reply held until the failpoint is disarmed
      "etcd.watch",      // the watch cut as a change of comp/ arrives, before it is handled
      "cluster.fetch",   // a payload fetch from peers, failed as if no holder answered
  };
  return all;
}

Result<Armed> parse(std::string_view name, std::string_view spec) {
  Armed a{std::string(name), 0, std::nullopt, 0};
  std::string_view err = spec, count;
  if (auto star = spec.find('*'); star != std::string_view::npos) {
    err = spec.substr(0, star);
    count = spec.substr(star + 1);
  }
  for (const auto& [text, value] : kErrors)
    if (text == err) a.error = value;
  if (!a.error)
    return fail(Code::kBadRequest,
                fmt::format("failpoint {}: \"{}\" is not an error berth can inject (ENOSPC, EIO, "
                            "EMFILE, ...)",
                            name, err));
  if (!count.empty()) {
    uint64_t n = 0;
    for (char c : count) {
      if (c < '0' || c > '9' || n > 1'000'000'000)
        return fail(Code::kBadRequest, fmt::format("failpoint {}: bad count \"{}\"", name, count));
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n == 0) return fail(Code::kBadRequest, fmt::format("failpoint {}: count 0", name));
    a.remaining = n;
  }
  return a;
}

Result<void> arm(Armed a) {
  if (!compiled_in()) return fail(Code::kNotFound, "this build has no failpoints");
  bool known = false;
  for (auto n : names()) known = known || n == a.name;
  if (!known) return fail(Code::kNotFound, fmt::format("no failpoint named \"{}\"", a.name));
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::erase_if(r.armed, [&](const Armed& x) { return x.name == a.name; });
  r.armed.push_back(std::move(a));
  r.any = true;
  return {};
}

void disarm(std::string_view name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::erase_if(r.armed, [&](const Armed& x) { return x.name == name; });
  r.any = !r.armed.empty();
}

std::vector<Armed> armed() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.armed;
}

Result<void> arm_all(std::string_view list) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return fail(Code::kBadRequest,
                  fmt::format("failpoint \"{}\": expected NAME=ERROR[*COUNT]", item));
    auto a = parse(item.substr(0, eq), item.substr(eq + 1));
    BERTH_TRY(a);
    BERTH_TRY(arm(std::move(*a)));
  }
  return {};
}

bool hit(std::string_view name) {
  auto& r = registry();
  if (!r.any.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(r.mu);
  for (auto& a : r.armed) {
    // A counted failpoint stays listed once spent, so a test can read what it failed.
    if (a.name != name || a.remaining == uint64_t{0}) continue;
    if (a.remaining) --*a.remaining;
    ++a.failed;
    errno = a.error;
    return true;
  }
  return false;
}

}  // namespace berth::failpoint

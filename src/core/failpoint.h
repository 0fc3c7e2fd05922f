// Named failpoints: the places where the disk, the kernel or a peer fails, made to fail on
// purpose by tests (issue 18). A seam asks `BERTH_FAIL("archive.write")`: false unless that
// failpoint is armed, else true with errno set to the armed error. Built with
// -DBERTH_FAILPOINTS=OFF (a Release build: the Debian package), the macro is the constant
// `false`, so no seam asks, and arming is refused. Armed at start from $BERTH_FAILPOINTS
// ("archive.write=ENOSPC, http.accept=EMFILE*3": `*N` fails the next N hits only) or at run time
// through PUT/DELETE /v1/debug/failpoints/NAME (docs/api.md).
//
// The registry is the one process-wide object in berth, on purpose: a failpoint must reach a
// free function deep in a seam (a pwrite on an offload thread) without a parameter threaded
// through every caller, and it exists only in test builds. Thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::failpoint {

struct Armed {
  std::string name;
  int error = 0;                      // errno
  std::optional<uint64_t> remaining;  // hits left to fail (0: spent, still listed); none: all
  uint64_t failed = 0;                // hits failed since it was armed
};

// False in a build without failpoints: the API then answers not_found.
bool compiled_in();
// Every failpoint the code has, in order: arming another name is refused.
const std::vector<std::string_view>& names();
// "ENOSPC" or "EIO*2" -> {ENOSPC, none} / {EIO, 2}. Errors: bad_request.
Result<Armed> parse(std::string_view name, std::string_view spec);
// Errors: not_found (no such failpoint, or none compiled in).
Result<void> arm(Armed a);
void disarm(std::string_view name);
std::vector<Armed> armed();
// "a=ENOSPC,b=EIO*2" (the $BERTH_FAILPOINTS syntax).
Result<void> arm_all(std::string_view list);

// "ENOSPC" for ENOSPC (the names parse() knows; else the number).
std::string errno_name(int err);

// The seam's question; sets errno when it answers true.
bool hit(std::string_view name);

}  // namespace berth::failpoint

#ifdef BERTH_NO_FAILPOINTS
#define BERTH_FAIL(name) false
#else
#define BERTH_FAIL(name) ::berth::failpoint::hit(name)
#endif

// A deployed tarball from a stranger (any compression libarchive reads): extraction into a
// temp root either succeeds or fails with a coded error, and either way nothing appears
// outside the destination; after a success every symlink in it resolves inside it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "archive/extract.h"
#include "fuzz_input.h"

namespace fs = std::filesystem;

namespace {

// One scratch root per process, on tmpfs where there is one (extraction ends with syncfs).
const fs::path& scratch() {
  static const fs::path root = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path r = base / ("berth-archive-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(r);
    fs::create_directories(r / "outside");
    return r;
  }();
  return root;
}

bool beneath(const fs::path& p, const fs::path& root) {
  auto rel = p.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& root = scratch();
  const fs::path archive = root / "in.tar", dest = root / "out";
  {
    std::ofstream out(archive, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fs::remove_all(dest);
  fs::create_directory(dest);
  berth::ExtractLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_entries = 1000;
  limits.ratio_floor = 1 << 20;
  auto r = berth::extract_archive(archive, dest, limits);
  if (!r) FUZZ_CHECK(!r.error().message.empty());
  // Nothing beside the destination: the root holds what it held before, and `outside` is empty.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(root)) names.insert(e.path().filename().string());
  FUZZ_CHECK((names == std::set<std::string>{"in.tar", "out", "outside"}));
  FUZZ_CHECK(fs::is_empty(root / "outside"));
  if (r) {
    const fs::path real_dest = fs::canonical(dest);
    for (const auto& e : fs::recursive_directory_iterator(dest)) {
      if (!e.is_symlink()) continue;
      std::error_code ec;
      const fs::path to = fs::weakly_canonical(e.path(), ec);
      FUZZ_CHECK(ec || beneath(to, real_dest));
    }
  }
  fs::remove_all(dest);
  return 0;
}

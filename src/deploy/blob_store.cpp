#include "deploy/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "core/sha256.h"
#include "deploy/release_store.h"

namespace berth {
namespace asio = boost::asio;
namespace fs = std::filesystem;

BlobStore::BlobStore(fs::path dir) : dir_(fs::absolute(dir).lexically_normal()) {}

fs::path BlobStore::path(const std::string& digest) const {
  return dir_ / "sha256" / digest;
}

fs::path BlobStore::incoming(const std::string& tag) const {
  return dir_ / (".incoming-" + tag);
}

bool BlobStore::has(const std::string& digest) const {
  std::error_code ec;
  return digest.size() == 64 && fs::is_regular_file(path(digest), ec);
}

Result<UniqueFd> BlobStore::open(const std::string& digest) const {
  if (!has(digest)) return fail(Code::kNotFound, "no payload sha256:" + digest + " here");
  UniqueFd fd(::open(path(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(Code::kIoError, errno_message("open " + path(digest).string(), errno));
  return fd;
}

Result<uint64_t> BlobStore::size_of(const std::string& digest) const {
  if (!has(digest)) return fail(Code::kNotFound, "no payload sha256:" + digest + " here");
  std::error_code ec;
  auto n = fs::file_size(path(digest), ec);
  if (ec) return fail(Code::kIoError, "size of " + path(digest).string() + ": " + ec.message());
  return n;
}

asio::awaitable<Result<Blob>> BlobStore::ingest(http::BodyReader& body, const std::string& tag) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const auto tmp = incoming(tag);
  Result<Blob> out = Blob{};
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) out = fail(Code::kIoError, errno_message("create " + tmp.string(), errno));
    Sha256 hash;
    std::vector<char> buf(256 * 1024);
    while (out) {
      auto n = co_await body.read_some(buf.data(), buf.size());
      if (!n) {
        out = std::unexpected(n.error());
        break;
      }
      if (*n == 0) break;
      hash.update({buf.data(), *n});
      for (size_t off = 0; off < *n;) {
        ssize_t w = ::write(fd.get(), buf.data() + off, *n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          out = fail(Code::kIoError, errno_message("write " + tmp.string(), errno));
          break;
        }
        off += static_cast<size_t>(w);
      }
      out->size += *n;
    }
    if (out && out->size == 0) out = fail(Code::kBadRequest, "the upload is empty");
    if (out && ::fsync(fd.get()) != 0) out = fail(Code::kIoError, errno_message("fsync", errno));
    if (out) out->digest = hash.hex();
  }
  if (out)
    if (auto r = file(tmp, out->digest); !r) out = std::unexpected(r.error());
  if (!out) fs::remove(tmp, ec);
  co_return out;
}

Result<void> BlobStore::file(const fs::path& tmp, const std::string& digest) const {
  auto dir = dir_ / "sha256";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (fs::exists(path(digest), ec)) {  // the same payload again: keep the one filed first
    fs::remove(tmp, ec);
    return {};
  }
  if (::rename(tmp.c_str(), path(digest).c_str()) != 0)
    return fail(Code::kIoError, errno_message("cannot store blob " + digest, errno));
  return fsync_dir(dir);
}

size_t BlobStore::prune(const std::set<std::string>& keep) const {
  size_t n = 0;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(dir_ / "sha256", ec)) {
    if (keep.contains(d.path().filename().string())) continue;
    fs::remove(d.path(), ec);
    ++n;
  }
  return n;
}

size_t BlobStore::sweep_incoming() const {
  size_t n = 0;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(dir_, ec))
    if (d.path().filename().string().starts_with(".incoming-")) n += fs::remove(d.path(), ec);
  return n;
}

}  // namespace berth

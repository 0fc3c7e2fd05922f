#include "deploy/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "core/failpoint.h"
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
  auto writer = BlobWriter::open(*this, tag);
  BERTH_CO_TRY(writer);
  std::vector<char> buf(256 * 1024);
  for (;;) {
    auto n = co_await body.read_some(buf.data(), buf.size());
    BERTH_CO_TRY(n);
    if (*n == 0) break;
    BERTH_CO_TRY(writer->write({buf.data(), *n}));
  }
  co_return writer->commit();
}

Result<BlobWriter> BlobWriter::open(const BlobStore& store, const std::string& tag) {
  std::error_code ec;
  fs::create_directories(store.dir_, ec);
  auto tmp = store.incoming(tag);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return fail(Code::kIoError, errno_message("create " + tmp.string(), errno));
  return BlobWriter(store, std::move(tmp), std::move(fd));
}

BlobWriter::BlobWriter(const BlobStore& store, fs::path tmp, UniqueFd fd)
    : store_(&store), tmp_(std::move(tmp)), fd_(std::move(fd)), hash_(std::make_unique<Sha256>()) {}

BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : store_(o.store_),
      tmp_(std::move(o.tmp_)),
      fd_(std::move(o.fd_)),
      hash_(std::move(o.hash_)),
      size_(o.size_),
      done_(o.done_) {
  o.done_ = true;
}

BlobWriter::~BlobWriter() {
  if (done_) return;
  std::error_code ec;
  fs::remove(tmp_, ec);
}

Result<void> BlobWriter::write(std::string_view bytes) {
  hash_->update(bytes);
  for (size_t off = 0; off < bytes.size();) {
    ssize_t w =
        BERTH_FAIL("blob.write") ? -1 : ::write(fd_.get(), bytes.data() + off, bytes.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0)
      return fail(io_code(errno, Code::kIoError), errno_message("write " + tmp_.string(), errno));
    off += static_cast<size_t>(w);
  }
  size_ += bytes.size();
  return {};
}

Result<Blob> BlobWriter::commit(const std::string& expected) {
  if (size_ == 0) return fail(Code::kBadRequest, "the payload is empty");
  if (BERTH_FAIL("blob.fsync") || ::fsync(fd_.get()) != 0)
    return fail(io_code(errno, Code::kIoError), errno_message("fsync " + tmp_.string(), errno));
  Blob blob{hash_->hex(), size_};
  if (!expected.empty() && blob.digest != expected)
    return fail(Code::kDigestMismatch, "the payload received hashes to sha256:" + blob.digest +
                                           ", not the sha256:" + expected + " asked for");
  fd_ = UniqueFd();
  BERTH_TRY(store_->file(tmp_, blob.digest));
  done_ = true;
  return blob;
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

// Deploy payloads by content: blobs/sha256/HEX, written once through blobs/.incoming-ID while
// they stream in (hashed on the way, never whole in memory) and renamed to their digest only
// when complete and durable. Uploads and peers put payloads here; deploys read them by
// digest. Runs on the io_context thread (the writes are small and sequential).
#pragma once
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "core/error.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "http/message.h"

namespace berth {

struct Blob {
  std::string digest;  // lowercase hex sha256
  uint64_t size = 0;
};

class BlobStore;

// One payload being written: to blobs/.incoming-TAG, hashed on the way, filed under its digest
// only by commit(). Destroyed uncommitted, it leaves nothing behind.
class BlobWriter {
 public:
  static Result<BlobWriter> open(const BlobStore& store, const std::string& tag);
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  ~BlobWriter();

  Result<void> write(std::string_view bytes);  // io_error on a failed write (a full disk)
  uint64_t size() const { return size_; }
  // fsyncs and files it. With `expected` (a peer's payload): digest_mismatch unless the bytes
  // hash to it, and nothing is filed. Empty payloads are refused (bad_request).
  Result<Blob> commit(const std::string& expected = "");

 private:
  BlobWriter(const BlobStore& store, std::filesystem::path tmp, UniqueFd fd);
  const BlobStore* store_;
  std::filesystem::path tmp_;
  UniqueFd fd_;
  std::unique_ptr<Sha256> hash_;
  uint64_t size_ = 0;
  bool done_ = false;
};

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path dir);  // HOME/blobs

  // Streams `body` to disk while hashing it, then files it under its digest. `tag` names the
  // temporary file (a deployment id). Refuses an empty body (bad_request); a failed write is
  // an io_error; nothing partial stays behind.
  boost::asio::awaitable<Result<Blob>> ingest(http::BodyReader& body, const std::string& tag);
  bool has(const std::string& digest) const;
  // The payload, open for reading; not_found when it is not here.
  Result<UniqueFd> open(const std::string& digest) const;
  Result<uint64_t> size_of(const std::string& digest) const;
  std::filesystem::path path(const std::string& digest) const;

  // Removes stored payloads whose digest is not in `keep`; returns how many went.
  size_t prune(const std::set<std::string>& keep) const;
  // Removes what uploads left half-written (after a crash).
  size_t sweep_incoming() const;

 private:
  friend class BlobWriter;
  std::filesystem::path incoming(const std::string& tag) const;
  Result<void> file(const std::filesystem::path& incoming, const std::string& digest) const;

  std::filesystem::path dir_;
};

}  // namespace berth

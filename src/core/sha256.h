// Incremental SHA-256 (OpenSSL's EVP), for content-addressed blobs and cache keys.
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace berth {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // Lower-case hex of the digest; ends the computation.
  std::string hex();

  static std::string of(std::string_view bytes);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace berth

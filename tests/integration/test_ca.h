// A certificate authority made for one test with the openssl command: a CA certificate, and
// certificates it signs for 127.0.0.1 that serve as server and client certificates (for
// etcd members and berth nodes alike). Skips (why() says) where openssl is not installed.
#pragma once
#include <filesystem>
#include <string>

#include "support/temp_dir.h"

namespace berth::testing {

class TestCa {
 public:
  // `subject`: the CA's common name (two CAs in one test are told apart by it).
  explicit TestCa(const std::string& subject = "berth-test-ca");

  struct Issued {
    std::filesystem::path cert, key;
  };
  // A certificate for `ip` (its subjectAltName), signed by this CA.
  Issued issue(const std::string& name, const std::string& ip = "127.0.0.1");

  const std::filesystem::path& ca() const { return ca_; }
  bool available() const { return why_.empty(); }
  const std::string& why() const { return why_; }

 private:
  bool openssl(const std::vector<std::string>& args);

  test::TempDir dir_;
  std::filesystem::path ca_, ca_key_;
  std::string why_;
};

}  // namespace berth::testing

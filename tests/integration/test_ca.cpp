#include "test_ca.h"

#include <unistd.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace fs = std::filesystem;

namespace {
constexpr const char* kOpenssl = "/usr/bin/openssl";
}

bool TestCa::openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, {});
  if (r.code != 0 && why_.empty()) why_ = "openssl " + args[0] + " failed: " + r.err;
  return r.code == 0;
}

TestCa::TestCa(const std::string& subject) {
  if (::access(kOpenssl, X_OK) != 0) {
    why_ = "openssl is not installed (scripts/bootstrap installs it)";
    return;
  }
  ca_ = dir_.path / "ca.pem";
  ca_key_ = dir_.path / "ca.key";
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", ca_key_.string(), "-out", ca_.string(), "-days", "2", "-subj",
           "/CN=" + subject});
}

TestCa::Issued TestCa::issue(const std::string& name, const std::string& ip) {
  Issued out{dir_.path / (name + ".pem"), dir_.path / (name + ".key")};
  const auto csr = dir_.path / (name + ".csr"), ext = dir_.path / (name + ".ext");
  std::ofstream(ext) << "subjectAltName=IP:" << ip
                     << "\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n";
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           out.key.string(), "-out", csr.string(), "-subj", "/CN=" + name}) &&
      openssl({"x509", "-req", "-in", csr.string(), "-CA", ca_.string(), "-CAkey", ca_key_.string(),
               "-CAcreateserial", "-out", out.cert.string(), "-days", "2", "-extfile",
               ext.string()});
  return out;
}

}  // namespace berth::testing

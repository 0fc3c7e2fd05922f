#include "http/tls.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace berth::http {
namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;

namespace {

// The names in the messages are the config keys these files come from.
Result<void> load_identity(ssl::context& ctx, const fs::path& cert, const fs::path& key) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert.string(), ec);
  if (ec)
    return fail(Code::kBadConfig, fmt::format("api.tls_cert {}: {}", cert.string(), ec.message()));
  ctx.use_private_key_file(key.string(), ssl::context::pem, ec);
  if (ec)
    return fail(Code::kBadConfig, fmt::format("api.tls_key {}: {}", key.string(), ec.message()));
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    return fail(Code::kBadConfig, fmt::format("api.tls_key {} does not match api.tls_cert {}",
                                              key.string(), cert.string()));
  return {};
}

Result<void> load_ca(ssl::context& ctx, const fs::path& ca) {
  boost::system::error_code ec;
  if (ca.empty())
    ctx.set_default_verify_paths(ec);
  else
    ctx.load_verify_file(ca.string(), ec);
  if (ec)
    return fail(Code::kBadConfig,
                fmt::format("cluster.ca {}: {}", ca.empty() ? "(the system's store)" : ca.string(),
                            ec.message()));
  return {};
}

TlsContext make(ssl::context::method method) {
  auto ctx = std::make_shared<ssl::context>(method);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  return ctx;
}

}  // namespace

Result<TlsContext> tls_server_context(const fs::path& cert, const fs::path& key,
                                      const fs::path& client_ca) {
  auto ctx = make(ssl::context::tls_server);
  BERTH_TRY(load_identity(*ctx, cert, key));
  if (!client_ca.empty()) {
    BERTH_TRY(load_ca(*ctx, client_ca));
    ctx->set_verify_mode(ssl::verify_peer);  // a certificate shown must chain to the CA
  }
  return ctx;
}

Result<TlsContext> tls_client_context(const fs::path& ca, const fs::path& cert,
                                      const fs::path& key) {
  auto ctx = make(ssl::context::tls_client);
  BERTH_TRY(load_ca(*ctx, ca));
  ctx->set_verify_mode(ssl::verify_peer);
  // A certificate in the trust file is an anchor even when it is not a root (as curl does): a
  // self-signed or intermediate certificate given as the CA then verifies.
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx->native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
  if (!cert.empty()) BERTH_TRY(load_identity(*ctx, cert, key));
  return ctx;
}

}  // namespace berth::http

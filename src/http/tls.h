// TLS contexts (OpenSSL through Asio), built once at start and shared by every connection on
// the loop: the server's certificate and key, and for a client the CA its peers must chain to
// (plus the certificate it shows, for servers that verify their clients). TLS 1.2 at least.
#pragma once
#include <filesystem>
#include <memory>

#include "core/error.h"

namespace boost::asio::ssl {
class context;
}

namespace berth::http {

using TlsContext = std::shared_ptr<boost::asio::ssl::context>;

// The certificate chain and key a server presents; with `client_ca`, a client that shows a
// certificate must chain to it (one that shows none is still served: the CLI has none).
// bad_config naming the file and OpenSSL's reason when a file is missing, unreadable, not
// PEM, or the key does not match the certificate.
Result<TlsContext> tls_server_context(const std::filesystem::path& cert,
                                      const std::filesystem::path& key,
                                      const std::filesystem::path& client_ca = {});

// A client's context: peers are verified against `ca` (empty: the system's trust store) and
// their certificate must name the address dialled. With `cert` and `key`, the client shows
// them to servers that ask.
Result<TlsContext> tls_client_context(const std::filesystem::path& ca,
                                      const std::filesystem::path& cert = {},
                                      const std::filesystem::path& key = {});

}  // namespace berth::http

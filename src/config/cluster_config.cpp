#include <arpa/inet.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/cluster_config_parse.h"
#include "http/async_client.h"

namespace berth {
namespace {

bool valid_address(const std::string& address) {
  in_addr a{};
  in6_addr b{};
  return inet_pton(AF_INET, address.c_str(), &a) == 1 ||
         inet_pton(AF_INET6, address.c_str(), &b) == 1;
}

// Node names become etcd keys and appear in every per-node line: keep them plain.
bool valid_node_name(std::string_view n) {
  if (n.empty() || n.size() > 63) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

Result<Millis> duration_at_least(const toml::node& v, Millis floor, const std::string& where) {
  auto d = v.is_string() ? parse_duration(v.as_string()->get()) : fail(Code::kBadConfig, "");
  if (!d || *d < floor)
    return fail(Code::kBadConfig,
                where + ": expected a duration of at least " + format_duration(floor));
  return *d;
}

Result<std::string> string_of(const toml::node& v, const std::string& where) {
  if (!v.is_string() || v.as_string()->get().empty())
    return fail(Code::kBadConfig, where + ": expected a non-empty string");
  return v.as_string()->get();
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto part = s.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

}  // namespace

bool is_loopback_address(const std::string& address) {
  in_addr a{};
  if (inet_pton(AF_INET, address.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return address == "::1" || address == "localhost";
}

Result<void> parse_api_table(const toml::table& t, const std::string& file, ApiConfig& c) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string where = file + ": api." + key;
    if (key == "listen") {
      auto s = string_of(v, where);
      BERTH_TRY(s);
      c.listen = *s;
    } else if (key == "tls_cert" || key == "tls_key") {
      auto s = string_of(v, where);
      BERTH_TRY(s);
      (key == "tls_cert" ? c.tls_cert : c.tls_key) = *s;
    } else if (key == "insecure_http") {
      if (!v.is_boolean()) return fail(Code::kBadConfig, where + ": expected true or false");
      c.insecure_http = v.as_boolean()->get();
    } else {
      return fail(Code::kBadConfig,
                  where + ": unknown key (known: listen, tls_cert, tls_key, insecure_http)");
    }
  }
  return {};
}

Result<void> parse_cluster_table(const toml::table& t, const std::string& file, ClusterConfig& c) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string where = file + ": cluster." + key;
    if (key == "etcd") {
      auto* arr = v.as_array();
      if (!arr) return fail(Code::kBadConfig, where + ": expected a list of URLs");
      c.etcd.clear();
      for (auto& e : *arr) {
        if (!e.is_string() || e.as_string()->get().empty())
          return fail(Code::kBadConfig, where + ": expected a list of URLs");
        c.etcd.push_back(e.as_string()->get());
      }
    } else if (key == "node" || key == "name" || key == "secret_file" || key == "advertise" ||
               key == "user" || key == "password" || key == "ca") {
      auto s = string_of(v, where);
      BERTH_TRY(s);
      if (key == "node") c.node = *s;
      if (key == "name") c.name = *s;
      if (key == "secret_file") c.secret_file = *s;
      if (key == "advertise") c.advertise = *s;
      if (key == "user") c.etcd_user = *s;
      if (key == "password") c.etcd_password = *s;
      if (key == "ca") c.ca = *s;
    } else if (key == "lease_ttl") {
      auto d = duration_at_least(v, Millis(2000), where);  // etcd raises shorter TTLs anyway
      BERTH_TRY(d);
      c.lease_ttl = *d;
    } else if (key == "peer_timeout") {
      auto d = duration_at_least(v, Millis(1000), where);
      BERTH_TRY(d);
      c.peer_timeout = *d;
    } else {
      return fail(Code::kBadConfig, where +
                                        ": unknown key (known: etcd, node, name, secret_file, "
                                        "advertise, lease_ttl, peer_timeout, user, password, ca)");
    }
  }
  return {};
}

Result<void> finish_network_config(ApiConfig& api, ClusterConfig& c,
                                   const std::filesystem::path& home) {
  if (auto v = env("BERTH_LISTEN")) api.listen = v;
  if (auto v = env("BERTH_ETCD")) c.etcd = split_commas(v);
  if (auto v = env("BERTH_NODE")) c.node = v;
  if (auto v = env("BERTH_CLUSTER_SECRET_FILE")) c.secret_file = v;
  if (auto v = env("BERTH_ADVERTISE")) c.advertise = v;

  if (!valid_address(api.listen))
    return fail(Code::kBadConfig, "api.listen: \"" + api.listen +
                                      "\" is not an IP address (like 127.0.0.1 or 0.0.0.0)");
  if (api.tls_cert.empty() != api.tls_key.empty())
    return fail(Code::kBadConfig,
                "api.tls_cert and api.tls_key go together: the certificate (PEM, with its chain) "
                "and its private key");
  for (auto* p : {&api.tls_cert, &api.tls_key, &c.ca})
    if (!p->empty() && p->is_relative()) *p = home / *p;
  if (!is_loopback_address(api.listen) && !api.tls() && !api.insecure_http)
    return fail(Code::kBadConfig,
                "api.listen = \"" + api.listen +
                    "\" is not loopback: the API and the cluster secret would cross the network "
                    "in clear. Set api.tls_cert and api.tls_key, or api.insecure_http = true "
                    "to accept that");

  if (!c.enabled()) return {};
  for (auto& e : c.etcd)
    if (auto u = http::Url::parse(e); !u)
      return fail(Code::kBadConfig, "cluster.etcd: " + u.error().message);
  if (c.node.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    c.node = host;
  }
  if (!valid_node_name(c.node))
    return fail(Code::kBadConfig,
                "cluster.node: \"" + c.node + "\": use 1-63 letters, digits, '-', '_' or '.'");
  if (!valid_node_name(c.name))
    return fail(Code::kBadConfig,
                "cluster.name: \"" + c.name + "\": use 1-63 letters, digits, '-', '_' or '.'");
  if (c.secret_file.empty())
    return fail(Code::kBadConfig,
                "cluster mode needs cluster.secret_file (or BERTH_CLUSTER_SECRET_FILE): the "
                "shared secret nodes use to call each other");
  if (c.secret_file.is_relative()) c.secret_file = home / c.secret_file;
  std::ifstream in(c.secret_file);
  if (!in)
    return fail(Code::kBadConfig, "cluster.secret_file: cannot read " + c.secret_file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  c.secret = ss.str();
  while (!c.secret.empty() && std::isspace(static_cast<unsigned char>(c.secret.back())))
    c.secret.pop_back();
  if (c.secret.size() < 16)
    return fail(Code::kBadConfig, "cluster.secret_file: " + c.secret_file.string() +
                                      " holds fewer than 16 characters; use a long random "
                                      "secret (openssl rand -hex 32)");
  if (c.advertise.empty() && (api.listen == "0.0.0.0" || api.listen == "::"))
    return fail(Code::kBadConfig, "api.listen = \"" + api.listen +
                                      "\" is every address: set cluster.advertise (or "
                                      "BERTH_ADVERTISE) to the URL peers reach this node at");
  if (!c.advertise.empty())
    if (auto u = http::Url::parse(c.advertise); !u)
      return fail(Code::kBadConfig, "cluster.advertise: " + u.error().message);
  return {};
}

}  // namespace berth

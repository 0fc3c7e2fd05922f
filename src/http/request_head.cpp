#include "http/request_head.h"

#include <boost/beast/http/field.hpp>

namespace berth::http {
namespace bhttp = boost::beast::http;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = -1, lo = -1;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex_value(s[i + 1])) >= 0 &&
        (lo = hex_value(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

Request to_request(const bhttp::request_header<>& head) {
  Request r;
  r.method = std::string(head.method_string());
  std::string_view target = head.target();
  auto q = target.find('?');
  r.path = url_decode(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      r.query[url_decode(kv.substr(0, eq))] =
          eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  r.authorization = std::string(head[bhttp::field::authorization]);
  r.last_event_id = std::string(head["Last-Event-ID"]);
  r.content_type = std::string(head[bhttp::field::content_type]);
  r.cookie = std::string(head[bhttp::field::cookie]);
  r.csrf_token = std::string(head["X-CSRF-Token"]);
  return r;
}

}  // namespace berth::http

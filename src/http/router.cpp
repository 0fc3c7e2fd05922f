#include "http/router.h"

#include <nlohmann/json.hpp>

namespace berth::http {
namespace {

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    out.push_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

Response error_response(Code code, const std::string& message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return Response{http_status(code),
                  j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

void Router::add(std::string method, std::string pattern, Handler h) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(h), nullptr});
}

void Router::add_upload(std::string method, std::string pattern, UploadHandler h) {
  routes_.push_back({std::move(method), split_path(pattern), nullptr, std::move(h)});
}

const Router::Route* Router::find(Request& req, Response& refusal) const {
  auto parts = split_path(req.path);
  bool path_known = false;
  for (const auto& r : routes_) {
    if (r.parts.size() != parts.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      const auto& want = r.parts[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}')
        params[want.substr(1, want.size() - 2)] = parts[i];
      else
        ok = want == parts[i];
    }
    if (!ok) continue;
    path_known = true;
    if (r.method != req.method) continue;
    req.params = std::move(params);
    return &r;
  }
  refusal =
      path_known
          ? error_response(Code::kMethodNotAllowed, req.method + " is not allowed on " + req.path)
          : error_response(Code::kNotFound, "no route for " + req.method + " " + req.path);
  return nullptr;
}

}  // namespace berth::http

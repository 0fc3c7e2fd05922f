// Maps method + path pattern ("/v1/components/{name}/logs") to an async handler.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "http/message.h"

namespace berth::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler h);
  // 404 `not_found` for an unknown path, 405 `method_not_allowed` for a known path.
  boost::asio::awaitable<Response> dispatch(Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> parts;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace berth::http

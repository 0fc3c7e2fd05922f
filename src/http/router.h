// Maps method + path pattern ("/v1/components/{name}/logs") to an async handler.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "http/message.h"

namespace berth::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;
// Handlers of streamed uploads get the request before its body and read the body themselves.
using UploadHandler = std::function<boost::asio::awaitable<Response>(Request&, BodyReader&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler h);
  void add_upload(std::string method, std::string pattern, UploadHandler h);
  // The upload handler for this request (its params filled), or null for ordinary routes.
  const UploadHandler* upload_route(Request& req) const;
  // 404 `not_found` for an unknown path, 405 `method_not_allowed` for a known path.
  boost::asio::awaitable<Response> dispatch(Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> parts;
    Handler handler;
    UploadHandler upload;
  };
  // The route for req (params filled); `path_known` tells 405 from 404 when none matches.
  const Route* match(Request& req, bool& path_known) const;
  std::vector<Route> routes_;
};

}  // namespace berth::http

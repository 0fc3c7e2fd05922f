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
  struct Route {
    std::string method;
    std::vector<std::string> parts;
    Handler handler;  // one of the two is set
    UploadHandler upload;
  };

  void add(std::string method, std::string pattern, Handler h);
  void add_upload(std::string method, std::string pattern, UploadHandler h);
  // The route for req, with req.params filled; null when there is none, and `refusal` then
  // holds the answer: 404 `not_found`, or 405 `method_not_allowed` for a known path.
  const Route* find(Request& req, Response& refusal) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace berth::http

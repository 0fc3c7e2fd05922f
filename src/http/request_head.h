// A request's head as berth reads it: Beast's parsed header turned into http::Request (the
// percent-decoded path, the query's pairs, the headers berth uses). Pure; any thread.
#pragma once
#include <boost/beast/http/message.hpp>
#include <string>
#include <string_view>

#include "http/message.h"

namespace berth::http {

// %XX decoded (an incomplete or non-hex escape stays as it is), '+' as a space.
std::string url_decode(std::string_view s);

// Everything but the body and the router's params.
Request to_request(const boost::beast::http::request_header<>& head);

}  // namespace berth::http

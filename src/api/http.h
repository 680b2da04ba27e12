// Plain request/response values shared by the HTTP server, the router and the client.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vnet::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, percent-decoded
  std::map<std::string, std::string> query;
  std::string body;
  std::string contentType;  // media type without parameters, lower-case ("" when absent)
};

struct Response {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
};

// Request limits: a body above kMaxBodyBytes is refused with 413. Beyond kMaxConnections
// open connections a new one is answered 503 and closed (file descriptors are kept for
// the networks' sockets).
inline constexpr size_t kMaxBodyBytes = 1 << 20;
inline constexpr size_t kMaxHeaderBytes = 16 << 10;
inline constexpr size_t kMaxConnections = 256;

// The HTTP status for an error code: Invalid 400, NotFound 404, Conflict 409,
// Unsupported 422, TooLarge 413, Internal 500, Unavailable 503.
int httpStatusFor(ErrorCode code);
ErrorCode errorCodeForStatus(int status);

// {"error": "<short reason phrase>", "detail": "<message>"} with the mapped status.
Response errorResponse(const Error& e);
Response jsonResponse(int status, const std::string& body);

// The media type of a Content-Type header value, lower-case, without parameters:
// "Application/XML; charset=utf-8" -> "application/xml".
std::string mediaType(std::string_view contentType);

// Splits "/v1/networks?all=1&x=y" into path and query; percent-decodes both.
// Returns an error for malformed escapes.
Status parseTarget(const std::string& target, Request& out);

}  // namespace vnet::api

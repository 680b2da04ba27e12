// Plain request/response values shared by the HTTP server, the router and the client.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace vnet::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, percent-decoded
  std::map<std::string, std::string> query;
  std::string body;
  std::string contentType;  // media type without parameters, lower-case ("" when absent)
};

// A response body produced over time (chunked transfer encoding), for answers that last
// (a trace, a capture, the event feed) or are large (the lease list). The server calls
// start() once the headers are out, with a sink for the body, and then stop() once when
// the stream is over, whatever the reason: the source closed the sink, the client went
// away or closed its sending side, or a write failed. When the client only closed its
// sending side (vnetctl on Ctrl-C), the sink still takes writes during stop() and sends
// them before the last chunk (a capture's statistics); otherwise they are dropped.
// Neither is called for a stream whose event loop is torn down without running again.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues one chunk (never empty); ignored once the stream is over.
  virtual void write(std::string chunk) = 0;
  // Ends the body after the queued chunks and closes the connection.
  virtual void close() = 0;
  // Bytes queued and not yet written to the client: a source that produces on its own
  // schedule (events, packets) bounds its memory with it and drops or waits beyond a
  // limit. 0 once the stream is over.
  virtual size_t buffered() const = 0;
};

class StreamSource {
 public:
  virtual ~StreamSource() = default;
  virtual void start(std::shared_ptr<StreamSink> sink) = 0;
  virtual void stop() = 0;
  // Every chunk queued so far has been written and the stream goes on: a source that
  // produces on demand writes the next piece now (back-pressure); others ignore it.
  virtual void drained() {}
};

// A source that produces on demand: `next` appends the next piece to `out` and returns
// false after the last one. It runs on the io_context between writes, so it must own
// what it reads; a large answer then never sits whole in memory.
std::shared_ptr<StreamSource> pullStream(std::function<bool(std::string& out)> next);

struct Response {
  // Not an aggregate, so that Response{status, body[, type]} needs no initializer for
  // `stream` (-Wmissing-field-initializers).
  Response() = default;
  Response(int st, std::string b, std::string type = "application/json")
      : status(st), body(std::move(b)), contentType(std::move(type)) {}

  int status = 200;
  std::string body;
  std::string contentType = "application/json";
  // Set: the body is streamed from this source and `body` is ignored.
  std::shared_ptr<StreamSource> stream;
};

// The whole body of r: `body`, or everything its stream produces when the stream produces
// on demand (pullStream); for tests and small answers.
std::string bodyText(Response& r);

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

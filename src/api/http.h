// Plain request/response values shared by the HTTP server, the router and the client.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "base/error.h"

namespace vnet::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, percent-decoded
  std::map<std::string, std::string> query;
  std::string body;
};

// Where a streaming response writes its body. Each write() becomes one HTTP chunk (or
// part of one); nothing blocks: data waits in memory until the client took it, so
// producers bound their own memory by looking at buffered().
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues body bytes. Ignored once the stream is ending or closed.
  virtual void write(std::string data) = 0;
  // Bytes queued and not yet taken by the client.
  virtual size_t buffered() const = 0;
  // No more data: the server sends what is queued, the last chunk, and closes.
  virtual void end() = 0;
};

// The body of a response that is produced over time (a capture, an event feed), sent
// with chunked transfer encoding on the daemon's event loop.
class StreamProducer {
 public:
  virtual ~StreamProducer() = default;
  // Called once, after the response header was queued. `sink` stays valid until
  // finish() has returned.
  virtual void start(StreamSink& sink) = 0;
  // Called exactly once when the stream ends for any reason: the client closed its side
  // or went away, a write failed, the producer called end(), or the server is going
  // down. The producer releases what it holds and may write a trailer (sent when the
  // client is still there). It must not use the sink after returning.
  virtual void finish() = 0;
  // Everything written so far has been sent (a pull-style producer writes more now).
  virtual void drained() {}
};

struct Response {
  Response(int s = 200, std::string b = {}, std::string type = "application/json")
      : status(s), body(std::move(b)), contentType(std::move(type)) {}

  int status;
  std::string body;
  std::string contentType;
  // When set, the body is streamed from this producer instead of `body` (the connection
  // closes when the stream ends).
  std::shared_ptr<StreamProducer> stream;
};

// Request limits: a body above kMaxBodyBytes is refused with 413.
inline constexpr size_t kMaxBodyBytes = 1 << 20;
inline constexpr size_t kMaxHeaderBytes = 16 << 10;

// The HTTP status for an error code: Invalid 400, NotFound 404, Conflict 409,
// Unsupported 422, TooLarge 413, Internal 500.
int httpStatusFor(ErrorCode code);
ErrorCode errorCodeForStatus(int status);

// {"error": "<short reason phrase>", "detail": "<message>"} with the mapped status.
Response errorResponse(const Error& e);
Response jsonResponse(int status, const std::string& body);

// Splits "/v1/networks?all=1&x=y" into path and query; percent-decodes both.
// Returns an error for malformed escapes.
Status parseTarget(const std::string& target, Request& out);

}  // namespace vnet::api

// A synchronous HTTP/1.1 client over vnetd's unix socket, used by vnetctl.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "base/error.h"

namespace vnet::api {

struct ClientResponse {
  int status = 0;
  std::string body;
};

class Client {
 public:
  explicit Client(std::string socketPath) : socketPath_(std::move(socketPath)) {}

  // Sends one request and waits for the answer. Connection failures give an error that
  // says vnetd is not running at that socket.
  // When the server refuses the request before reading all of it (a body over its limit),
  // its answer is still returned.
  Result<ClientResponse> request(const std::string& method, const std::string& target,
                                 const std::string& body = {},
                                 const std::string& contentType = "application/json") const;

  // Like request(), but turns a non-2xx answer into an Error carrying the server's
  // "detail" text and the matching ErrorCode.
  Result<std::string> call(const std::string& method, const std::string& target,
                           const std::string& body = {},
                           const std::string& contentType = "application/json") const;

  // Sends one request whose answer is streamed: `onData` gets the body as it arrives, in
  // pieces of any size, and returns false to stop reading. A non-2xx answer is an Error
  // like call()'s. Returns when the body ends, the server closes, or onData says stop.
  // After a 2xx header, `onOpen` (if set) gets the socket's fd: shutdown(fd, SHUT_WR)
  // (async-signal-safe) asks vnetd to end the stream; it stops the source, sends what
  // the source wrote while stopping (a capture's statistics) and the last chunk.
  Status stream(const std::string& method, const std::string& target,
                const std::function<bool(std::string_view)>& onData,
                const std::function<void(int fd)>& onOpen = {}) const;

  const std::string& socketPath() const { return socketPath_; }

 private:
  std::string socketPath_;
};

// Percent-encodes one path segment or query value.
std::string urlEncode(const std::string& s);

}  // namespace vnet::api

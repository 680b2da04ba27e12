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
  Result<ClientResponse> request(const std::string& method, const std::string& target,
                                 const std::string& body = {}) const;

  // Like request(), but turns a non-2xx answer into an Error carrying the server's
  // "detail" text and the matching ErrorCode.
  Result<std::string> call(const std::string& method, const std::string& target,
                           const std::string& body = {}) const;

  // Sends a GET and hands the response body to `onData` piece by piece as it arrives
  // (for streamed answers: captures, events). A non-2xx answer is read whole and
  // returned as an Error like call(). After a 2xx header, `onOpen` gets the socket's fd:
  // shutdown(fd, SHUT_WR) (async-signal-safe) asks vnetd to end the stream, which it
  // does by sending its trailer and the last chunk. Returns when the stream ended, or
  // early when onData returns false.
  Status stream(const std::string& target, const std::function<void(int fd)>& onOpen,
                const std::function<bool(std::string_view)>& onData) const;

  const std::string& socketPath() const { return socketPath_; }

 private:
  std::string socketPath_;
};

// Percent-encodes one path segment or query value.
std::string urlEncode(const std::string& s);

}  // namespace vnet::api

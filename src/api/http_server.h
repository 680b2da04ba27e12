// HTTP/1.1 over a unix stream socket or TCP (Boost.Beast), on the daemon's
// single-threaded io_context. Each request is answered by a synchronous handler;
// keep-alive is honoured. Limits: headers kMaxHeaderBytes, body kMaxBodyBytes (413
// beyond), 30 s read time-out.
// A handler may answer with a stream (Response::stream, see StreamSource): chunked, no
// time-out, the connection closes after it; anything the client sends meanwhile is
// ignored, and the client closing its end (even only for writing) ends the stream.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/http.h"
#include "base/error.h"

namespace vnet::api {

using RequestHandler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  // Binds `path` (an existing stale socket file is replaced), chmods it to `mode`, and
  // starts accepting on `io`.
  static Result<std::unique_ptr<HttpServer>> listenUnix(boost::asio::io_context& io,
                                                        const std::string& path, mode_t mode,
                                                        RequestHandler handler);
  // Listens on a TCP address ("127.0.0.1", 9477); port 0 picks a free one (see port()).
  static Result<std::unique_ptr<HttpServer>> listenTcp(boost::asio::io_context& io,
                                                       const std::string& address, uint16_t port,
                                                       RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting and removes the socket file. Open connections finish their request.
  void close();
  // The bound TCP port (0 for a unix socket).
  uint16_t port() const;

  struct Impl;
  template <typename Protocol>
  struct Acceptor;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnet::api

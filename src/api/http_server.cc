#include "api/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Local::socket socket, const RequestHandler& handler)
      : stream_(std::move(socket)), handler_(handler) {}

  void start() { readRequest(); }

 private:
  void readRequest() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->onRead(ec);
                     });
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::eof) {
      return;  // client went away
    }
    if (ec == http::error::body_limit) {
      Response r = errorResponse(Error(ErrorCode::TooLarge, "request body exceeds the limit of " +
                                                                std::to_string(kMaxBodyBytes) +
                                                                " bytes"));
      return send(std::move(r), false, 11);
    }
    if (ec == http::error::header_limit) {
      Response r = errorResponse(Error(ErrorCode::TooLarge, "request headers exceed the limit of " +
                                                                std::to_string(kMaxHeaderBytes) +
                                                                " bytes"));
      return send(std::move(r), false, 11);
    }
    if (ec) {
      return send(errorResponse(Error::invalid("malformed HTTP request: " + ec.message())), false,
                  11);
    }
    auto& req = parser_->get();
    Request r;
    r.method = std::string(req.method_string());
    Status st = parseTarget(std::string(req.target()), r);
    if (!st.ok()) return send(errorResponse(st.error()), req.keep_alive(), req.version());
    r.body = std::move(req.body());
    Response resp = handler_(r);
    send(std::move(resp), req.keep_alive(), req.version());
  }

  // A streamed body: the header, then one chunk per kChunkBytes the stream produced, then
  // the last chunk.
  struct Streaming {
    http::response<http::empty_body> header;
    std::optional<http::response_serializer<http::empty_body>> serializer;
    std::function<bool(std::string&)> next;
    std::string chunk;
    bool keepAlive = false;
  };
  static constexpr size_t kChunkBytes = 64 << 10;

  void sendStream(Response resp, bool keepAlive, unsigned version) {
    auto st = std::make_shared<Streaming>();
    st->header = http::response<http::empty_body>(static_cast<http::status>(resp.status), version);
    st->header.set(http::field::server, "vnetd");
    st->header.set(http::field::content_type, resp.contentType);
    st->header.keep_alive(keepAlive);
    st->header.chunked(true);
    st->next = std::move(resp.stream);
    st->keepAlive = keepAlive;
    st->serializer.emplace(st->header);
    http::async_write_header(stream_, *st->serializer,
                             [self = shared_from_this(), st](beast::error_code ec, size_t) {
                               if (!ec) self->writeChunk(st);
                             });
  }

  void writeChunk(const std::shared_ptr<Streaming>& st) {
    st->chunk.clear();
    bool more = true;
    while (more && st->chunk.size() < kChunkBytes) more = st->next(st->chunk);
    if (st->chunk.empty()) return finishStream(st);
    asio::async_write(stream_, http::make_chunk(asio::buffer(st->chunk)),
                      [self = shared_from_this(), st, more](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (more) {
                          self->writeChunk(st);
                        } else {
                          self->finishStream(st);
                        }
                      });
  }

  void finishStream(const std::shared_ptr<Streaming>& st) {
    st->next = nullptr;  // releases what the stream held
    st->chunk = std::string();
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = shared_from_this(), st](beast::error_code ec, size_t) {
                        if (ec) return;
                        self->afterResponse(st->keepAlive);
                      });
  }

  void afterResponse(bool keepAlive) {
    if (keepAlive) {
      readRequest();
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(Local::socket::shutdown_send, ignored);
    }
  }

  void send(Response resp, bool keepAlive, unsigned version) {
    if (resp.stream) return sendStream(std::move(resp), keepAlive, version);
    auto msg = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp.status), version);
    msg->set(http::field::server, "vnetd");
    msg->set(http::field::content_type, resp.contentType);
    msg->keep_alive(keepAlive);
    msg->body() = std::move(resp.body);
    msg->prepare_payload();
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg, keepAlive](beast::error_code ec, size_t) {
                        if (ec) return;
                        self->afterResponse(keepAlive);
                      });
  }

  beast::basic_stream<Local> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  RequestHandler handler_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(asio::io_context& io, std::string p, RequestHandler h)
      : acceptor(io), path(std::move(p)), handler(std::move(h)) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, Local::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(socket), handler)->start();
      accept();
    });
  }

  Local::acceptor acceptor;
  std::string path;
  RequestHandler handler;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { close(); }

Result<std::unique_ptr<HttpServer>> HttpServer::listenUnix(asio::io_context& io,
                                                           const std::string& path, mode_t mode,
                                                           RequestHandler handler) {
  auto impl = std::make_unique<Impl>(io, path, std::move(handler));
  ::unlink(path.c_str());
  beast::error_code ec;
  impl->acceptor.open(Local(), ec);
  if (!ec) impl->acceptor.bind(Local::endpoint(path), ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error("listening on " + path + ": " + ec.message(), ec.value());
  if (::chmod(path.c_str(), mode) != 0) return Error::fromErrno("chmod " + path, errno);
  impl->accept();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::close() {
  if (!impl_ || !impl_->acceptor.is_open()) return;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  ::unlink(impl_->path.c_str());
}

}  // namespace vnet::api

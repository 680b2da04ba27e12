#include "api/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;
using Tcp = asio::ip::tcp;

namespace {

template <typename Protocol>
class Session : public std::enable_shared_from_this<Session<Protocol>>, private StreamSink {
 public:
  Session(typename Protocol::socket socket, const RequestHandler& handler)
      : stream_(std::move(socket)), handler_(handler) {}

  ~Session() override {
    closed_ = true;
    finishProducer();
  }

  void start() { readRequest(); }

 private:
  using std::enable_shared_from_this<Session<Protocol>>::shared_from_this;

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
    if (resp.stream) return startStream(std::move(resp), req.version());
    send(std::move(resp), req.keep_alive(), req.version());
  }

  void send(Response resp, bool keepAlive, unsigned version) {
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
                        if (keepAlive) {
                          self->readRequest();
                        } else {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(Protocol::socket::shutdown_send,
                                                          ignored);
                        }
                      });
  }

  // --- streaming responses ---------------------------------------------------------

  void startStream(Response resp, unsigned version) {
    producer_ = std::move(resp.stream);
    stream_.expires_never();
    auto msg = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(resp.status), version);
    msg->set(http::field::server, "vnetd");
    msg->set(http::field::content_type, resp.contentType);
    msg->keep_alive(false);
    msg->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*msg);
    writing_ = true;
    http::async_write_header(stream_, *sr,
                             [self = shared_from_this(), msg, sr](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->closeStream();
                               self->watchClient();
                               self->afterWrite();
                             });
    producer_->start(*this);
  }

  // A read that completes only when the client closes its side or goes away (any bytes
  // it sends meanwhile are ignored).
  void watchClient() {
    stream_.async_read_some(asio::buffer(readScratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (self->closed_) return;
                              if (!ec) return self->watchClient();
                              self->finishProducer();  // may queue a trailer
                              self->ending_ = true;
                              self->flush();
                            });
  }

  void write(std::string data) override {
    if (closed_ || lastQueued_ || data.empty()) return;
    pending_ += data;
    flush();
  }
  size_t buffered() const override { return pending_.size() + inflight_.size(); }
  void end() override {
    ending_ = true;
    // Not from inside the producer's call: the end may finish the producer.
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->flush(); });
  }

  void flush() {
    if (writing_ || closed_) return;
    if (!pending_.empty()) {
      inflight_ = std::move(pending_);
      pending_.clear();
      writing_ = true;
      asio::async_write(stream_, http::make_chunk(asio::buffer(inflight_)),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          self->inflight_.clear();
                          if (ec) return self->closeStream();
                          self->afterWrite();
                        });
      return;
    }
    if (ending_ && !lastQueued_) {
      lastQueued_ = true;
      writing_ = true;
      asio::async_write(stream_, http::make_chunk_last(),
                        [self = shared_from_this()](beast::error_code, size_t) {
                          self->writing_ = false;
                          self->closeStream();
                        });
    }
  }

  void afterWrite() {
    flush();
    if (!writing_ && !ending_ && producer_ && !producerFinished_) producer_->drained();
  }

  void closeStream() {
    if (closed_) return;
    closed_ = true;
    finishProducer();
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    stream_.close();
  }

  void finishProducer() {
    if (!producer_ || producerFinished_) return;
    producerFinished_ = true;
    auto p = std::move(producer_);
    p->finish();
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  RequestHandler handler_;

  std::shared_ptr<StreamProducer> producer_;
  std::string pending_;   // queued by the producer
  std::string inflight_;  // being written as one chunk
  char readScratch_[512];
  bool writing_ = false;
  bool ending_ = false;      // no more data: send the last chunk after pending_
  bool lastQueued_ = false;  // the last chunk is on its way
  bool closed_ = false;
  bool producerFinished_ = false;
};

}  // namespace

struct HttpServer::Impl {
  virtual ~Impl() = default;
  virtual void close() = 0;
  virtual uint16_t port() const = 0;
};

template <typename Protocol>
struct HttpServer::Acceptor final : HttpServer::Impl {
  Acceptor(asio::io_context& io, std::string p, RequestHandler h)
      : acceptor(io), path(std::move(p)), handler(std::move(h)) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, typename Protocol::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) std::make_shared<Session<Protocol>>(std::move(socket), handler)->start();
      accept();
    });
  }

  void close() override {
    if (!acceptor.is_open()) return;
    beast::error_code ec;
    acceptor.close(ec);
    if (!path.empty()) ::unlink(path.c_str());
  }

  uint16_t port() const override {
    if constexpr (std::is_same_v<Protocol, Tcp>) {
      beast::error_code ec;
      auto ep = acceptor.local_endpoint(ec);
      return ec ? 0 : ep.port();
    }
    return 0;
  }

  typename Protocol::acceptor acceptor;
  std::string path;  // unix socket file to remove on close
  RequestHandler handler;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { close(); }

Result<std::unique_ptr<HttpServer>> HttpServer::listenUnix(asio::io_context& io,
                                                           const std::string& path, mode_t mode,
                                                           RequestHandler handler) {
  auto impl = std::make_unique<Acceptor<Local>>(io, path, std::move(handler));
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

Result<std::unique_ptr<HttpServer>> HttpServer::listenTcp(asio::io_context& io,
                                                          const std::string& address,
                                                          uint16_t port, RequestHandler handler) {
  std::string where = address + ":" + std::to_string(port);
  beast::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return Error::invalid("listening on " + where + ": '" + address + "' is not an IP address");
  auto impl = std::make_unique<Acceptor<Tcp>>(io, std::string(), std::move(handler));
  Tcp::endpoint ep(ip, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error("listening on " + where + ": " + ec.message(), ec.value());
  impl->accept();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::close() {
  if (impl_) impl_->close();
}

uint16_t HttpServer::port() const { return impl_ ? impl_->port() : 0; }

}  // namespace vnet::api

#include "api/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <deque>
#include <optional>
#include <type_traits>

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;
using Tcp = asio::ip::tcp;

namespace {

// How long a connection closed after an error keeps reading (and discarding) what the
// client still sends, so that the client gets to read the error instead of a reset.
constexpr std::chrono::seconds kLingerTime{5};
constexpr size_t kLingerBytes = 64u << 20;

// One connection; Protocol is Local (the API socket) or Tcp (the metrics listener).
template <typename Protocol>
class Session : public std::enable_shared_from_this<Session<Protocol>> {
 public:
  // `live` counts the sessions of one server (this one included while it exists).
  Session(typename Protocol::socket socket, const RequestHandler& handler,
          std::shared_ptr<size_t> live)
      : stream_(std::move(socket)), handler_(handler), live_(std::move(live)) {
    ++*live_;
  }
  ~Session() { --*live_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    if (*live_ > kMaxConnections) {
      return refuse(Error(ErrorCode::Unavailable, "too many connections (the limit is " +
                                                      std::to_string(kMaxConnections) +
                                                      "); try again"));
    }
    readRequest();
  }

 private:
  using std::enable_shared_from_this<Session<Protocol>>::shared_from_this;
  using std::enable_shared_from_this<Session<Protocol>>::weak_from_this;

  // The header first: a body over the limit is refused before it is sent (Content-Length,
  // or Expect: 100-continue, which gets its 100 only when the header is acceptable).
  void readRequest() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) return onRead(ec);
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code wec, size_t) {
                          if (wec) return;
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::eof) {
      return;  // client went away
    }
    if (ec == http::error::body_limit) {
      // The declared length, when there is one (a chunked body has none).
      beast::string_view declared = parser_->get()[http::field::content_length];
      std::string size = declared.empty() ? "" : "of " + std::string(declared) + " bytes ";
      return refuse(Error(ErrorCode::TooLarge, "request body " + size + "exceeds the limit of " +
                                                   std::to_string(kMaxBodyBytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return refuse(Error(ErrorCode::TooLarge, "request headers exceed the limit of " +
                                                   std::to_string(kMaxHeaderBytes) + " bytes"));
    }
    if (ec) return refuse(Error::invalid("malformed HTTP request: " + ec.message()));
    auto& req = parser_->get();
    Request r;
    r.method = std::string(req.method_string());
    Status st = parseTarget(std::string(req.target()), r);
    if (!st.ok()) return send(errorResponse(st.error()), req.keep_alive(), req.version());
    r.body = std::move(req.body());
    beast::string_view type = req[http::field::content_type];
    r.contentType = mediaType(std::string_view(type.data(), type.size()));
    Response resp;
    try {
      resp = handler_(r);
    } catch (const std::exception& e) {
      // The boundary of one request: a bug in a handler answers 500 and vnetd goes on.
      resp = errorResponse(Error("internal error in " + r.method + " " + r.path + ": " + e.what()));
    }
    if (resp.stream) return startStream(std::move(resp), req.version());
    send(std::move(resp), req.keep_alive(), req.version());
  }

  // Answers an error that ends the connection; what the client still sends is discarded.
  void refuse(const Error& e) { send(errorResponse(e), false, 11, true); }

  // ---- Streamed responses: headers, then chunks as the source writes them, one write in
  // flight at a time; a read stays posted so that a client going away is noticed at once.

  class Sink : public StreamSink {
   public:
    explicit Sink(std::weak_ptr<Session> s) : session_(std::move(s)) {}
    void write(std::string chunk) override {
      if (auto s = session_.lock()) s->queueChunk(std::move(chunk));
    }
    void close() override {
      if (auto s = session_.lock()) s->queueLast();
    }
    size_t buffered() const override {
      auto s = session_.lock();
      return s ? s->queuedBytes_ : 0;
    }

   private:
    std::weak_ptr<Session> session_;
  };

  void startStream(Response resp, unsigned version) {
    source_ = std::move(resp.stream);
    stream_.expires_never();
    auto head = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(resp.status), version);
    head->set(http::field::server, "vnetd");
    head->set(http::field::content_type, resp.contentType);
    head->keep_alive(false);
    head->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*head);
    writing_ = true;
    http::async_write_header(
        stream_, *sr, [self = shared_from_this(), head, sr](beast::error_code ec, size_t) {
          self->writing_ = false;
          if (ec) return self->endStream();
          self->watchClient();
          if (self->source_) {
            self->source_->start(std::make_shared<Sink>(self->weak_from_this()));
          }
          self->writeNext();
        });
  }

  // A read stays posted. The client closing its sending side (EOF) while the body goes on
  // stops the source; what the source writes in stop() still goes out, then the last
  // chunk, then the connection closes. Any other error (the client went away), or EOF
  // after the last chunk, ends the stream at once.
  void watchClient() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) return self->watchClient();  // ignored
                              if (ec != asio::error::eof || self->lastQueued_ || self->ended_) {
                                return self->endStream();
                              }
                              if (auto source = std::move(self->source_)) source->stop();
                              self->queueLast();
                            });
  }

  void queueChunk(std::string chunk) {
    if (ended_ || lastQueued_ || chunk.empty()) return;
    queuedBytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    writeNext();
  }

  void queueLast() {
    if (ended_ || lastQueued_) return;
    lastQueued_ = true;
    writeNext();
  }

  void writeNext() {
    if (ended_ || writing_) return;
    if (!chunks_.empty()) {
      auto chunk = std::make_shared<std::string>(std::move(chunks_.front()));
      chunks_.pop_front();
      writing_ = true;
      asio::async_write(stream_, http::make_chunk(asio::buffer(*chunk)),
                        [self = shared_from_this(), chunk](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          if (self->ended_) return;  // endStream() dropped the queue
                          self->queuedBytes_ -= chunk->size();
                          if (ec) return self->endStream();
                          if (self->chunks_.empty() && !self->lastQueued_ && self->source_) {
                            self->source_->drained();  // may queue the next piece
                          }
                          self->writeNext();
                        });
    } else if (lastQueued_ && !lastSent_) {
      lastSent_ = true;
      writing_ = true;
      asio::async_write(stream_, http::make_chunk_last(),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
                          // The client reads to the end and closes; the posted read sees it.
                          // After the client's EOF no read is posted: close now.
                          if (ec || !self->source_) self->endStream();
                        });
    }
  }

  // The stream is over: closes the connection (ending the posted read) and tells the
  // source, once.
  void endStream() {
    if (ended_) return;
    ended_ = true;
    chunks_.clear();
    queuedBytes_ = 0;
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    if (auto source = std::move(source_)) source->stop();
  }

  void send(Response resp, bool keepAlive, unsigned version, bool linger = false) {
    auto msg = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp.status), version);
    msg->set(http::field::server, "vnetd");
    msg->set(http::field::content_type, resp.contentType);
    msg->keep_alive(keepAlive);
    msg->body() = std::move(resp.body);
    msg->prepare_payload();
    http::async_write(
        stream_, *msg,
        [self = shared_from_this(), msg, keepAlive, linger](beast::error_code ec, size_t) {
          if (ec) return;
          if (keepAlive) return self->readRequest();
          beast::error_code ignored;
          self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
          if (linger) {
            self->stream_.expires_after(kLingerTime);
            self->discard();
          }
        });
  }

  void discard() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->discarded_ += n;
                              if (ec || self->discarded_ > kLingerBytes) return;
                              self->discard();
                            });
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  RequestHandler handler_;
  // Draining a refused request's rest, and watching a streamed response's client.
  std::array<char, 16384> scratch_{};
  size_t discarded_ = 0;
  std::shared_ptr<size_t> live_;
  // Streamed responses only.
  std::shared_ptr<StreamSource> source_;
  std::deque<std::string> chunks_;
  size_t queuedBytes_ = 0;  // in chunks_ and the chunk being written
  bool writing_ = false;
  bool lastQueued_ = false;
  bool lastSent_ = false;
  bool ended_ = false;
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
      if (!ec) {
        std::make_shared<Session<Protocol>>(std::move(socket), handler, live)->start();
        return accept();
      }
      // Out of file descriptors (EMFILE, ENFILE) or memory: accepting again at once would
      // spin; wait for connections to close.
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](beast::error_code wec) {
        if (!wec && acceptor.is_open()) accept();
      });
    });
  }

  void close() override {
    if (!acceptor.is_open()) return;
    beast::error_code ec;
    acceptor.close(ec);
    retry.cancel();
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
  asio::steady_timer retry{acceptor.get_executor()};
  std::string path;  // unix socket file to remove on close
  RequestHandler handler;
  std::shared_ptr<size_t> live = std::make_shared<size_t>(0);  // open sessions
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
  close();
}

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
                                                          const std::string& address, uint16_t port,
                                                          RequestHandler handler) {
  std::string where = address + ":" + std::to_string(port);
  beast::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec)
    return Error::invalid("listening on " + where + ": '" + address + "' is not an IP address");
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

uint16_t HttpServer::port() const {
  return impl_ ? impl_->port() : 0;
}

}  // namespace vnet::api

// The server and client together over a real unix socket in a temp dir.
#include "api/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api/client.h"

namespace vnet::api {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-api-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s.sock";
    auto s = HttpServer::listenUnix(io_, path_, 0660, [](const Request& r) {
      return Response{200, r.method + " " + r.path + " " + std::to_string(r.body.size()),
                      "text/plain"};
    });
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    ::rmdir(dir_.c_str());
  }
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::string dir_, path_;
};

TEST_F(HttpServerTest, AnswersRequests) {
  Client c(path_);
  auto r = c.request("POST", "/v1/networks?all=1", "hello");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /v1/networks 5");
}

TEST_F(HttpServerTest, RefusesOversizedBodies) {
  Client c(path_);
  auto r = c.request("POST", "/v1/networks", std::string(kMaxBodyBytes + 1, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("too large"), std::string::npos);
  auto again = c.request("GET", "/still-alive");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200);
}

// Raw bytes on a new connection; everything the server sends until it closes (or 10 s).
std::string rawExchange(const std::string& path, const std::string& bytes, bool halfClose = false) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
  if (halfClose) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

TEST_F(HttpServerTest, RefusesADeclaredOversizedBodyBeforeReadingIt) {
  // Only the header is sent: the answer must not wait for 2 MB that never come.
  std::string out = rawExchange(path_,
                                "POST /v1/networks HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 2000000\r\n\r\n");
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 413");
  EXPECT_NE(out.find("request body of 2000000 bytes exceeds the limit of 1048576 bytes"),
            std::string::npos)
      << out;
}

TEST_F(HttpServerTest, TheClientReadsThe413AfterSendingTheWholeBody) {
  // The server answers early and keeps draining, so the client's write completes and
  // the client gets the answer rather than a broken pipe.
  Client c(path_);
  auto r = c.request("POST", "/v1/networks", std::string(2000000, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("request body of 2000000 bytes exceeds the limit of 1048576 bytes"),
            std::string::npos)
      << r->body;
}

TEST_F(HttpServerTest, RefusesOversizedChunkedBodiesAndHeaders) {
  std::string chunk(600000, 'y');
  char size[32];
  std::snprintf(size, sizeof(size), "%zx", chunk.size());
  std::string out =
      rawExchange(path_, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             std::string(size) + "\r\n" + chunk + "\r\n" + std::string(size) +
                             "\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 413");
  EXPECT_NE(out.find("request body exceeds the limit of 1048576 bytes"), std::string::npos) << out;
  out = rawExchange(path_,
                    "GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20000, 'p') + "\r\n\r\n");
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 413");
  EXPECT_NE(out.find("request headers exceed the limit of 16384 bytes"), std::string::npos) << out;
}

TEST_F(HttpServerTest, AnswersExpectContinue) {
  std::string out = rawExchange(path_,
                                "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_EQ(out.substr(0, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  EXPECT_NE(out.find("POST /a 5"), std::string::npos) << out;
}

TEST(HttpServer, AHandlerExceptionIsA500AndTheServerGoesOn) {
  char tmpl[] = "/tmp/vnet-api-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/s.sock";
  boost::asio::io_context io;
  auto s = HttpServer::listenUnix(io, path, 0600, [](const Request& r) -> Response {
    if (r.path == "/throw") throw std::runtime_error("boom");
    return Response{200, "fine", "text/plain"};
  });
  ASSERT_TRUE(s.ok());
  std::thread t([&io] { io.run(); });
  Client c(path);
  auto bad = c.request("GET", "/throw");
  auto good = c.request("GET", "/ok");
  io.stop();
  t.join();
  s->reset();
  ::rmdir(tmpl);
  ASSERT_TRUE(bad.ok()) << bad.error().message();
  EXPECT_EQ(bad->status, 500);
  EXPECT_NE(bad->body.find("internal error in GET /throw: boom"), std::string::npos) << bad->body;
  ASSERT_TRUE(good.ok()) << good.error().message();
  EXPECT_EQ(good->status, 200);
}

TEST_F(HttpServerTest, BeyondTheConnectionLimitNewConnectionsGet503) {
  // kMaxConnections idle clients that sent half a request.
  std::vector<int> idle;
  for (size_t i = 0; i < kMaxConnections; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_GT(::send(fd, "GET /a HTTP/1.1\r\nHo", 19, MSG_NOSIGNAL), 0);
    idle.push_back(fd);
  }
  // Let the server accept them all.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Client c(path_);
  auto r = c.request("GET", "/one-too-many");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("too many connections (the limit is 256)"), std::string::npos) << r->body;
  for (int fd : idle) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto again = c.request("GET", "/after");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->status, 200);
}

// A source that writes `lines` when started, then closes unless `keepOpen`; writes
// `trailer` in stop().
class LinesSource : public StreamSource {
 public:
  LinesSource(std::vector<std::string> lines, bool keepOpen, std::string trailer = {})
      : lines_(std::move(lines)), keepOpen_(keepOpen), trailer_(std::move(trailer)) {}
  void start(std::shared_ptr<StreamSink> sink) override {
    for (const auto& l : lines_) sink->write(l);
    if (!keepOpen_) sink->close();
    sink_ = std::move(sink);
  }
  void stop() override {
    if (sink_ && !trailer_.empty()) sink_->write(trailer_);
    if (sink_) bufferedAtStop = sink_->buffered();
    sink_.reset();
    ++stops;
  }
  std::atomic<int> stops{0};
  std::atomic<size_t> bufferedAtStop{0};

 private:
  std::vector<std::string> lines_;
  bool keepOpen_;
  std::string trailer_;
  std::shared_ptr<StreamSink> sink_;
};

class StreamingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-api-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s.sock";
    auto s = HttpServer::listenUnix(io_, path_, 0660, [this](const Request& r) {
      if (r.path == "/finite") {
        Response resp(200, "", "application/x-ndjson");
        resp.stream = finite_;
        return resp;
      }
      if (r.path == "/forever") {
        Response resp;
        resp.stream = forever_;
        return resp;
      }
      if (r.path == "/trailer") {
        Response resp;
        resp.stream = trailer_;
        return resp;
      }
      return errorResponse(Error::notFound("no such thing: " + r.path));
    });
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    ::rmdir(dir_.c_str());
  }
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::string dir_, path_;
  std::shared_ptr<LinesSource> finite_ = std::make_shared<LinesSource>(
      std::vector<std::string>{"one\n", "two\n", std::string(20000, 'x') + "\n"}, false);
  std::shared_ptr<LinesSource> forever_ =
      std::make_shared<LinesSource>(std::vector<std::string>{"hello\n"}, true);
  std::shared_ptr<LinesSource> trailer_ =
      std::make_shared<LinesSource>(std::vector<std::string>{"head;"}, true, "trailer;");
};

TEST_F(StreamingServerTest, StreamsChunksUntilTheSourceCloses) {
  Client c(path_);
  std::string got;
  Status s = c.stream("GET", "/finite", [&](std::string_view d) {
    got.append(d);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(got, "one\ntwo\n" + std::string(20000, 'x') + "\n");
  for (int i = 0; i < 100 && finite_->stops == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(finite_->stops, 1) << "stop() once the stream is over";
}

TEST_F(StreamingServerTest, TheClientLeavingStopsTheSource) {
  Client c(path_);
  std::string got;
  Status s = c.stream("GET", "/forever", [&](std::string_view d) {
    got.append(d);
    return got.find('\n') == std::string::npos;  // stop after the first line
  });
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(got, "hello\n");
  for (int i = 0; i < 200 && forever_->stops == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(forever_->stops, 1);
}

TEST_F(StreamingServerTest, ErrorsAreErrorsNotStreams) {
  Client c(path_);
  bool called = false;
  Status s = c.stream("GET", "/nothing", [&](std::string_view) { return called = true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(s.error().message(), "no such thing: /nothing");
  EXPECT_FALSE(called);
}

TEST(Client, SaysWhenVnetdIsNotRunning) {
  Client c("/nonexistent/vnetd.sock");
  auto r = c.request("GET", "/v1/networks");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is vnetd running?"), std::string::npos);
}

// vnetctl's Ctrl-C: the client closes only its sending side; stop() may still write (a
// capture's statistics), then the body ends in order.
TEST_F(StreamingServerTest, AHalfCloseStopsTheSourceAndSendsWhatItWroteThen) {
  Client c(path_);
  std::string got;
  Status s = c.stream(
      "GET", "/trailer",
      [&](std::string_view d) {
        got.append(d);
        return true;
      },
      [](int fd) { ::shutdown(fd, SHUT_WR); });
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(got, "head;trailer;");
  EXPECT_EQ(trailer_->stops, 1);
  EXPECT_GE(trailer_->bufferedAtStop, 8u) << "the trailer waits in the sink";
}

TEST(HttpServerTcp, ServesOnAnEphemeralPort) {
  boost::asio::io_context io;
  auto s = HttpServer::listenTcp(io, "127.0.0.1", 0, [](const Request& r) {
    return Response{200, "tcp " + r.path, "text/plain"};
  });
  ASSERT_TRUE(s.ok()) << s.error().message();
  uint16_t port = (*s)->port();
  ASSERT_NE(port, 0);
  std::thread t([&io] { io.run(); });
  namespace http = boost::beast::http;
  boost::asio::io_context cio;
  boost::asio::ip::tcp::socket sock(cio);
  boost::system::error_code ec;
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  ASSERT_FALSE(ec) << ec.message();
  http::request<http::empty_body> req(http::verb::get, "/metrics", 11);
  req.keep_alive(false);
  http::write(sock, req, ec);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> resp;
  http::read(sock, buf, resp, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(resp.body(), "tcp /metrics");
  boost::asio::post(io, [&] { (*s)->close(); });
  io.stop();
  t.join();
  EXPECT_FALSE(HttpServer::listenTcp(io, "not-an-ip", 0, {}).ok());
}

}  // namespace
}  // namespace vnet::api

// The server and client together over a real unix socket in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

#include "api/client.h"
#include "api/http_server.h"

namespace vnet::api {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-api-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s.sock";
    auto s = HttpServer::listenUnix(io_, path_, 0660, [this](const Request& r) {
      if (r.path == "/stream" && makeStream_) {
        Response resp{200, "", "text/plain"};
        resp.stream = makeStream_();
        return resp;
      }
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
  std::function<std::shared_ptr<StreamProducer>()> makeStream_;
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
  // The server may close before reading everything; either a 413 or a failed write.
  if (r.ok()) {
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find("too large"), std::string::npos);
  }
  auto again = c.request("GET", "/still-alive");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200);
}

// Writes `chunks` when started, then ends unless told to wait; records finish().
class TestProducer : public StreamProducer {
 public:
  TestProducer(std::vector<std::string> chunks, bool endAfter, std::string trailer = {})
      : chunks_(std::move(chunks)), endAfter_(endAfter), trailer_(std::move(trailer)) {}
  void start(StreamSink& sink) override {
    for (auto& c : chunks_) sink.write(c);
    if (endAfter_) sink.end();
    sink_ = &sink;
  }
  void finish() override {
    if (sink_ && !trailer_.empty()) sink_->write(trailer_);
    sink_ = nullptr;
    finished = true;
  }
  std::atomic<bool> finished{false};

 private:
  std::vector<std::string> chunks_;
  bool endAfter_;
  std::string trailer_;
  StreamSink* sink_ = nullptr;
};

bool waitFor(const std::atomic<bool>& flag) {
  for (int i = 0; i < 200 && !flag; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return flag;
}

TEST_F(HttpServerTest, StreamsChunksUntilTheProducerEnds) {
  auto producer = std::make_shared<TestProducer>(std::vector<std::string>{"one\n", "two\n", "three\n"}, true);
  makeStream_ = [producer] { return producer; };
  Client c(path_);
  std::string got;
  bool opened = false;
  Status s = c.stream("/stream", [&](int fd) { opened = fd >= 0; },
                      [&](std::string_view d) {
                        got.append(d);
                        return true;
                      });
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(opened);
  EXPECT_EQ(got, "one\ntwo\nthree\n");
  EXPECT_TRUE(waitFor(producer->finished));
  // The server keeps serving.
  auto again = c.request("GET", "/still-alive");
  ASSERT_TRUE(again.ok());
}

TEST_F(HttpServerTest, AClientGoingAwayFinishesTheProducer) {
  auto producer = std::make_shared<TestProducer>(std::vector<std::string>{"data"}, false);
  makeStream_ = [producer] { return producer; };
  Client c(path_);
  Status s = c.stream("/stream", {}, [](std::string_view) { return false; });  // hang up
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(waitFor(producer->finished));
}

TEST_F(HttpServerTest, AHalfCloseGetsTheTrailerAndAnOrderlyEnd) {
  auto producer =
      std::make_shared<TestProducer>(std::vector<std::string>{"head;"}, false, "trailer;");
  makeStream_ = [producer] { return producer; };
  Client c(path_);
  std::string got;
  Status s = c.stream("/stream", [](int fd) { ::shutdown(fd, SHUT_WR); },
                      [&](std::string_view d) {
                        got.append(d);
                        return true;
                      });
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(got, "head;trailer;");
  EXPECT_TRUE(producer->finished);
}

TEST_F(HttpServerTest, StreamErrorsAreReadWhole) {
  Client c(path_);
  Status s = c.stream("/not-a-stream", {}, [](std::string_view) { return true; });
  EXPECT_TRUE(s.ok());  // a plain 200 answer is delivered as data too
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

TEST(Client, SaysWhenVnetdIsNotRunning) {
  Client c("/nonexistent/vnetd.sock");
  auto r = c.request("GET", "/v1/networks");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is vnetd running?"), std::string::npos);
}

}  // namespace
}  // namespace vnet::api

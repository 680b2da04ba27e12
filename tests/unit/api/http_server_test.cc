// The server and client together over a real unix socket in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
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
  // The server may close before reading everything; either a 413 or a failed write.
  if (r.ok()) {
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find("too large"), std::string::npos);
  }
  auto again = c.request("GET", "/still-alive");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200);
}

TEST(Client, SaysWhenVnetdIsNotRunning) {
  Client c("/nonexistent/vnetd.sock");
  auto r = c.request("GET", "/v1/networks");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is vnetd running?"), std::string::npos);
}

}  // namespace
}  // namespace vnet::api

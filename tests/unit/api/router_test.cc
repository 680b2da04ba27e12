#include "api/router.h"

#include <gtest/gtest.h>

namespace vnet::api {
namespace {

Request req(std::string method, std::string target) {
  Request r;
  r.method = std::move(method);
  EXPECT_TRUE(parseTarget(target, r).ok());
  return r;
}

TEST(Target, SplitsAndDecodes) {
  Request r = req("GET", "/v1/networks/my%20net?all=1&x=a+b");
  EXPECT_EQ(r.path, "/v1/networks/my net");
  EXPECT_EQ(r.query.at("all"), "1");
  EXPECT_EQ(r.query.at("x"), "a b");
  Request bad;
  EXPECT_FALSE(parseTarget("/v1/%zz", bad).ok());
  EXPECT_FALSE(parseTarget("/v1/%4", bad).ok());
}

TEST(Router, MatchesPatternsAndCaptures) {
  Router r;
  r.add("POST", "/v1/networks/{name}/start", [](const Request&, const Params& p) {
    return Response{200, p.at("name")};
  });
  EXPECT_EQ(r.route(req("POST", "/v1/networks/default/start")).body, "default");
  EXPECT_EQ(r.route(req("GET", "/v1/networks/default/start")).status, 405);
  Response missing = r.route(req("POST", "/v1/nothing"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"error\":\"not found\""), std::string::npos);
}

TEST(Http, ErrorCodesMapToStatuses) {
  EXPECT_EQ(errorResponse(Error::invalid("x")).status, 400);
  EXPECT_EQ(errorResponse(Error::notFound("x")).status, 404);
  EXPECT_EQ(errorResponse(Error::conflict("x")).status, 409);
  EXPECT_EQ(errorResponse(Error(ErrorCode::TooLarge, "x")).status, 413);
  EXPECT_EQ(errorResponse(Error("x")).status, 500);
  EXPECT_EQ(errorCodeForStatus(409), ErrorCode::Conflict);
}

}  // namespace
}  // namespace vnet::api

#include "base/error.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "base/random.h"

namespace vnet {
namespace {

Status addAddress() {
  return Error::fromErrno("adding address 192.168.122.1/24 to vnbr0", EEXIST);
}
Status startNetwork() {
  Status s = addAddress();
  if (!s.ok()) return std::move(s).error().context("starting network 'default'");
  return Status::success();
}

TEST(Error, ContextChainsReadLikeASentence) {
  Status s = startNetwork();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "starting network 'default': adding address 192.168.122.1/24 to vnbr0: File exists");
  EXPECT_EQ(s.error().sysErrno(), EEXIST);
}

TEST(Error, ResultHoldsValueOrError) {
  Result<int> good = 3;
  Result<int> bad = Error::notFound("no such network");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::NotFound);
}

TEST(ErrorList, JoinsEveryError) {
  ErrorList errs;
  EXPECT_TRUE(errs.toStatus().ok());
  errs.add(Error("deleting vnet0: No such device"));
  errs.add(Status::success());
  errs.add(Error("deleting vnbr0: Device or resource busy"));
  Status s = errs.toStatus("stopping network 'default'");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "stopping network 'default': deleting vnet0: No such device; deleting vnbr0: Device or "
            "resource busy");
}

TEST(Random, UuidIsVersion4) {
  std::string u = randomUuid();
  EXPECT_TRUE(isUuid(u)) << u;
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(u, randomUuid());
  EXPECT_FALSE(isUuid("9a05da11-e96b-47f3-8253-a3a482e445f"));
  EXPECT_FALSE(isUuid("9a05da11xe96b-47f3-8253-a3a482e445f5"));
}

}  // namespace
}  // namespace vnet

#include "base/bytes.h"

#include <gtest/gtest.h>

namespace vnet {
namespace {

TEST(ByteReader, ReadsBigEndianAndFailsSafely) {
  const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  ByteReader r(data);
  EXPECT_EQ(r.u8(), 0x01);
  EXPECT_EQ(r.u16(), 0x0203);
  EXPECT_EQ(r.u32(), 0x04050607u);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.u8(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteReader, LengthPastTheEndFails) {
  const uint8_t data[] = {1, 2, 3};
  ByteReader r(data);
  EXPECT_TRUE(r.bytes(4).empty());
  EXPECT_FALSE(r.ok());
  ByteReader s(data);
  EXPECT_FALSE(s.seek(4));
  ByteReader t(data);
  EXPECT_TRUE(t.seek(3));
  EXPECT_EQ(t.remaining(), 0u);
}

TEST(ByteWriter, WritesAndPatches) {
  ByteWriter w;
  w.u16(0);
  w.u32(0xDEADBEEF);
  w.patchU16(0, 0x1234);
  EXPECT_EQ(w.data(), (std::vector<uint8_t>{0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF}));
}

}  // namespace
}  // namespace vnet

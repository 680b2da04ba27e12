// PcapngWriter output read back by libpcap's own pcapng reader (pcap_open_offline), plus
// a walk over the blocks for what libpcap does not expose (interface names and ids).
#include "capture/pcapng.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace vnet::capture {
namespace {

std::vector<uint8_t> frame(size_t n, uint8_t seed) {
  std::vector<uint8_t> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = static_cast<uint8_t>(seed + i);
  return f;
}

class PcapngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-pcapng-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
  }
  void TearDown() override { ::unlink(path_.c_str()); }
  void writeFile(const std::string& bytes) { std::ofstream(path_, std::ios::binary) << bytes; }
  std::string path_;
};

// The two interfaces, four packets (odd lengths to exercise padding, one truncated) and
// statistics that the capture stream writes.
std::string sample() {
  std::string s = PcapngWriter::sectionHeader("vnet test");
  s += PcapngWriter::interfaceDescription(kLinktypeEthernet, 262144, "vnet0", "port of default");
  // libpcap's reader wants one snap length for all interfaces (the capture uses one).
  s += PcapngWriter::interfaceDescription(kLinktypeEthernet, 262144, "vnbr0", "bridge of default");
  auto a = frame(61, 1), b = frame(98, 2), c = frame(96, 3), d = frame(14, 4);
  s += PcapngWriter::enhancedPacket(0, 1700000000123456789ull, a, 61);
  s += PcapngWriter::enhancedPacket(1, 1700000000123456999ull, b, 98);
  s += PcapngWriter::enhancedPacket(1, 1700000001000000001ull, c, 1514);  // truncated
  s += PcapngWriter::enhancedPacket(0, 1700000002000000000ull, d, 14);
  s += PcapngWriter::interfaceStatistics(0, 1700000003000000000ull, {2, 0, 0});
  s += PcapngWriter::interfaceStatistics(1, 1700000003000000000ull, {3, 1, 1});
  return s;
}

TEST_F(PcapngTest, LibpcapReadsPacketsTimestampsAndLengths) {
  writeFile(sample());
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path_.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  struct Want {
    size_t caplen;
    uint32_t len;
    uint8_t seed;
    long sec;
    long nsec;
  };
  const Want want[] = {{61, 61, 1, 1700000000, 123456789},
                       {98, 98, 2, 1700000000, 123456999},
                       {96, 1514, 3, 1700000001, 1},
                       {14, 14, 4, 1700000002, 0}};
  for (const auto& w : want) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    ASSERT_EQ(pcap_next_ex(p, &h, &data), 1) << pcap_geterr(p);
    EXPECT_EQ(h->caplen, w.caplen);
    EXPECT_EQ(h->len, w.len);
    EXPECT_EQ(h->ts.tv_sec, w.sec);
    EXPECT_EQ(h->ts.tv_usec, w.nsec);  // nanoseconds with NANO precision
    auto expected = frame(w.caplen, w.seed);
    EXPECT_EQ(std::memcmp(data, expected.data(), w.caplen), 0);
  }
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  EXPECT_EQ(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);  // clean end of file
  pcap_close(p);
}

TEST_F(PcapngTest, ACutBetweenBlocksIsStillAValidFile) {
  std::string s = PcapngWriter::sectionHeader("vnet test");
  s += PcapngWriter::interfaceDescription(kLinktypeEthernet, 262144, "vnet0", "");
  auto a = frame(60, 9);
  s += PcapngWriter::enhancedPacket(0, 1, a, 60);
  writeFile(s);
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path_.c_str(), err);
  ASSERT_NE(p, nullptr) << err;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  EXPECT_EQ(pcap_next_ex(p, &h, &data), 1);
  EXPECT_EQ(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
  pcap_close(p);
}

// Walks the blocks: lengths agree at both ends and are multiples of 4; IDBs carry their
// names; EPBs name the interface they were seen on.
TEST(PcapngBlocks, InterfaceNamesAndIds) {
  std::string s = sample();
  std::vector<std::string> names;
  std::vector<uint32_t> packetIfaces;
  std::vector<uint32_t> types;
  size_t off = 0;
  while (off < s.size()) {
    ASSERT_LE(off + 12, s.size());
    uint32_t type = 0, len = 0, trailer = 0;
    std::memcpy(&type, s.data() + off, 4);
    std::memcpy(&len, s.data() + off + 4, 4);
    ASSERT_EQ(len % 4, 0u);
    ASSERT_LE(off + len, s.size());
    std::memcpy(&trailer, s.data() + off + len - 4, 4);
    ASSERT_EQ(len, trailer);
    types.push_back(type);
    if (type == 1) {
      // if_name is the first option, at offset 16.
      uint16_t code = 0, olen = 0;
      std::memcpy(&code, s.data() + off + 16, 2);
      std::memcpy(&olen, s.data() + off + 18, 2);
      EXPECT_EQ(code, 2);
      names.emplace_back(s.data() + off + 20, olen);
    }
    if (type == 6) {
      uint32_t id = 0;
      std::memcpy(&id, s.data() + off + 8, 4);
      packetIfaces.push_back(id);
    }
    off += len;
  }
  EXPECT_EQ(types, (std::vector<uint32_t>{0x0A0D0D0A, 1, 1, 6, 6, 6, 6, 5, 5}));
  EXPECT_EQ(names, (std::vector<std::string>{"vnet0", "vnbr0"}));
  EXPECT_EQ(packetIfaces, (std::vector<uint32_t>{0, 1, 1, 0}));
}

TEST(PcapngBlocks, SectionHeaderHasByteOrderMagicAndVersion) {
  std::string s = PcapngWriter::sectionHeader("x");
  uint32_t magic = 0;
  uint16_t major = 0, minor = 0;
  std::memcpy(&magic, s.data() + 8, 4);
  std::memcpy(&major, s.data() + 12, 2);
  std::memcpy(&minor, s.data() + 14, 2);
  EXPECT_EQ(magic, 0x1A2B3C4Du);
  EXPECT_EQ(major, 1);
  EXPECT_EQ(minor, 0);
}

}  // namespace
}  // namespace vnet::capture

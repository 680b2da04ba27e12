#include "capture/pcapng.h"

#include <algorithm>
#include <cstring>

namespace vnet::capture {

namespace {

constexpr uint32_t kSectionHeaderType = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescriptionType = 0x00000001;
constexpr uint32_t kInterfaceStatisticsType = 0x00000005;
constexpr uint32_t kEnhancedPacketType = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;

constexpr uint16_t kOptEndOfOpt = 0;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kIsbIfRecv = 4;
constexpr uint16_t kIsbIfDrop = 5;
constexpr uint16_t kIsbOsDrop = 7;

size_t pad4(size_t n) {
  return (4 - n % 4) % 4;
}

// Appends host-order integers and padded options to one block, then fixes up the two
// length fields when finished.
class Block {
 public:
  explicit Block(uint32_t type) {
    put32(type);
    put32(0);  // total length, set by finish()
  }
  void put16(uint16_t v) { putRaw(&v, sizeof v); }
  void put32(uint32_t v) { putRaw(&v, sizeof v); }
  void put64(uint64_t v) { putRaw(&v, sizeof v); }
  void putBytes(const void* p, size_t n) {
    putRaw(p, n);
    buf_.append(pad4(n), '\0');
  }
  void option(uint16_t code, const void* value, size_t n) {
    put16(code);
    put16(static_cast<uint16_t>(n));
    putBytes(value, n);
  }
  void option(uint16_t code, std::string_view s) {
    if (s.empty()) return;
    option(code, s.data(), std::min<size_t>(s.size(), 0xFFFC));
  }
  void option64(uint16_t code, uint64_t v) { option(code, &v, sizeof v); }
  // Timestamps in pcapng are split into high and low 32-bit halves.
  void timestamp(uint64_t ts) {
    put32(static_cast<uint32_t>(ts >> 32));
    put32(static_cast<uint32_t>(ts));
  }
  void endOptions() {
    put16(kOptEndOfOpt);
    put16(0);
  }
  std::string finish() && {
    uint32_t total = static_cast<uint32_t>(buf_.size() + 4);
    put32(total);
    std::memcpy(buf_.data() + 4, &total, sizeof total);
    return std::move(buf_);
  }

 private:
  void putRaw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  std::string buf_;
};

}  // namespace

std::string PcapngWriter::sectionHeader(std::string_view application) {
  Block b(kSectionHeaderType);
  b.put32(kByteOrderMagic);
  b.put16(1);             // major
  b.put16(0);             // minor
  b.put64(~uint64_t{0});  // section length: not specified (written as a stream)
  b.option(kShbUserAppl, application);
  b.endOptions();
  return std::move(b).finish();
}

std::string PcapngWriter::interfaceDescription(uint16_t linktype, uint32_t snaplen,
                                               std::string_view name,
                                               std::string_view description) {
  Block b(kInterfaceDescriptionType);
  b.put16(linktype);
  b.put16(0);  // reserved
  b.put32(snaplen);
  b.option(kIfName, name);
  b.option(kIfDescription, description);
  const uint8_t nanoseconds = 9;  // 10^-9 s
  b.option(kIfTsresol, &nanoseconds, 1);
  b.endOptions();
  return std::move(b).finish();
}

std::string PcapngWriter::enhancedPacket(uint32_t interfaceId, uint64_t timestampNs,
                                         std::span<const uint8_t> data, uint32_t originalLength) {
  Block b(kEnhancedPacketType);
  b.put32(interfaceId);
  b.timestamp(timestampNs);
  b.put32(static_cast<uint32_t>(data.size()));
  b.put32(std::max<uint32_t>(originalLength, static_cast<uint32_t>(data.size())));
  b.putBytes(data.data(), data.size());
  return std::move(b).finish();
}

std::string PcapngWriter::interfaceStatistics(uint32_t interfaceId, uint64_t timestampNs,
                                              const InterfaceStats& stats) {
  Block b(kInterfaceStatisticsType);
  b.put32(interfaceId);
  b.timestamp(timestampNs);
  b.option64(kIsbIfRecv, stats.received);
  b.option64(kIsbIfDrop, stats.droppedByKernel);
  b.option64(kIsbOsDrop, stats.droppedByUs);
  b.endOptions();
  return std::move(b).finish();
}

}  // namespace vnet::capture

// DHCPv4 wire codec (RFC 2131 §2 message format, RFC 2132 options, RFC 3396 long options).
// Pure functions over bytes: no sockets, no clock. Every received byte is untrusted; every
// length is checked against what remains before it is read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "dhcp/option_defs.h"

namespace vnet::dhcp {

// RFC 2132 §9.6.
enum class MessageType : uint8_t {
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};
const char* messageTypeName(MessageType t);

inline constexpr uint8_t kBootRequest = 1;
inline constexpr uint8_t kBootReply = 2;
inline constexpr uint16_t kBroadcastFlag = 0x8000;
// Fixed BOOTP header (236) + magic cookie (4).
inline constexpr size_t kMinMessageSize = 240;
// RFC 2131 §2: every client accepts a 576-byte IP datagram (548 bytes of DHCP message).
inline constexpr size_t kMinMaxMessageSize = 576;
inline constexpr size_t kIpUdpHeaderSize = 28;

// The options of one message, in first-appearance order, one entry per code. Repeated
// occurrences of a code are concatenated on parse (RFC 3396 §7) and split into 255-byte
// pieces on serialize. Data lives in one buffer, so a message costs two allocations.
class Options {
 public:
  struct Entry {
    uint8_t code;
    std::span<const uint8_t> data;
  };

  // The data of option code, or nullopt when absent (an empty span means present, empty).
  std::optional<std::span<const uint8_t>> get(uint8_t code) const;
  bool has(uint8_t code) const { return find(code) != nullptr; }
  // Sets code to data, replacing an earlier value but keeping its position.
  void set(uint8_t code, std::span<const uint8_t> data);
  // Appends data to option code (creating it at the end when absent).
  void append(uint8_t code, std::span<const uint8_t> data);
  void erase(uint8_t code);
  void clear();
  void reserve(size_t entries, size_t bytes);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  Entry at(size_t i) const;

  friend bool operator==(const Options& a, const Options& b);

 private:
  struct Slot {
    uint8_t code;
    uint32_t offset;
    uint32_t length;
  };
  const Slot* find(uint8_t code) const;
  Slot* find(uint8_t code);
  std::vector<Slot> entries_;
  std::vector<uint8_t> bytes_;
};

struct Message {
  uint8_t op = kBootRequest;
  uint8_t htype = 1;  // Ethernet
  uint8_t hlen = 6;
  uint8_t hops = 0;
  uint32_t xid = 0;
  uint16_t secs = 0;
  uint16_t flags = 0;
  Ipv4 ciaddr;
  Ipv4 yiaddr;
  Ipv4 siaddr;
  Ipv4 giaddr;
  std::array<uint8_t, 16> chaddr{};
  // Raw, NUL-padded. Zeroed by parse() when option overload (52) used them for options.
  std::array<uint8_t, 64> sname{};
  std::array<uint8_t, 128> file{};
  // Never contains option 52: overload is a wire detail handled by parse(); serialize()
  // never overloads.
  Options options;

  bool broadcastFlag() const { return (flags & kBroadcastFlag) != 0; }
  // The first 6 bytes of chaddr (meaningful when htype 1 / hlen 6).
  Mac mac() const;
  void setMac(const Mac& mac);
  bool isEthernet() const { return htype == 1 && hlen == 6; }

  // Typed accessors. Each returns nullopt when the option is absent or has a length its type
  // does not allow, so callers never see a malformed value.
  std::optional<MessageType> messageType() const;                        // 53
  std::optional<Ipv4> requestedIp() const;                               // 50
  std::optional<Ipv4> serverId() const;                                  // 54
  std::optional<std::span<const uint8_t>> clientId() const;              // 61 (at least 2 bytes)
  std::optional<std::span<const uint8_t>> parameterRequestList() const;  // 55
  std::optional<uint16_t> maxMessageSize() const;                        // 57 (values < 576 -> 576)
  std::optional<std::string_view> hostname() const;                      // 12
  std::optional<uint32_t> leaseTime() const;                             // 51

  void setMessageType(MessageType t);
  void setIpv4(uint8_t code, Ipv4 a);
  void setU32(uint8_t code, uint32_t v);
  void setU16(uint8_t code, uint16_t v);
};

// Parses a BOOTP/DHCP message (RFC 2131 §2, RFC 2132 §2-3, §9.3 overload).
// Errors (the message must be dropped): shorter than 240 bytes; hlen > 16 or Ethernet with
// hlen != 6; bad magic cookie; an option whose length byte or data runs past its field;
// a malformed option 52. A missing END option is tolerated. Option 52 is honoured only in
// the options field (options in file/sname cannot overload again: no loops).
Result<Message> parse(std::span<const uint8_t> bytes);
// Same, into out, reusing its option buffers (no allocation in the steady state). On error
// out is unspecified.
Status parseInto(std::span<const uint8_t> bytes, Message& out);

// Encodes m. max_message_size is the largest DHCP message the peer accepts as defined by
// RFC 2132 §9.10 (an IP datagram, headers included); values below 576 are raised to 576.
// Options are written in their order, except that 53, 54 and 51 are always written first;
// an option that does not fit is dropped (later, smaller ones may still fit). The result is
// padded to 300 bytes, the BOOTP minimum some clients require (RFC 1542 §3.1.1).
std::vector<uint8_t> serialize(const Message& m, size_t max_message_size = kMinMaxMessageSize);
// Same, into out (cleared first): lets a caller reuse a buffer.
void serializeInto(const Message& m, size_t max_message_size, std::vector<uint8_t>& out);

}  // namespace vnet::dhcp

// PcapngWriter: builds a pcapng stream (draft-ietf-opsawg-pcapng) in memory, block by
// block, for captures that span several interfaces: one Section Header Block, one
// Interface Description Block per interface (if_name, if_description, if_tsresol = ns),
// then Enhanced Packet Blocks naming the interface each packet was seen on, and
// optionally Interface Statistics Blocks at the end.
//
// Blocks are written in host byte order (the SHB's byte-order magic tells readers).
// The writer only formats what the caller hands it; it parses nothing, so it has no
// fuzz target. Each append returns complete blocks, so a consumer may cut the stream
// between any two calls and still have a valid file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vnet::capture {

// LINKTYPE_ETHERNET (tcpdump.org link-layer header types).
inline constexpr uint16_t kLinktypeEthernet = 1;

struct InterfaceStats {
  uint64_t received = 0;         // isb_ifrecv: packets the capture saw
  uint64_t droppedByKernel = 0;  // isb_ifdrop: dropped by the interface/kernel buffer
  uint64_t droppedByUs = 0;      // isb_osdrop: dropped by the writer's consumer (slow reader)
};

class PcapngWriter {
 public:
  // The Section Header Block, with shb_userappl = `application`. Call once, first.
  static std::string sectionHeader(std::string_view application);

  // An Interface Description Block. Interface ids are assigned in the order these are
  // written, starting at 0; the caller keeps that order. Timestamps of this interface's
  // packets are in nanoseconds (if_tsresol = 9).
  static std::string interfaceDescription(uint16_t linktype, uint32_t snaplen,
                                          std::string_view name, std::string_view description);

  // An Enhanced Packet Block: `data` is the captured part of a packet whose length on the
  // wire was `originalLength` (>= data.size()), seen at `timestampNs` (since the epoch).
  static std::string enhancedPacket(uint32_t interfaceId, uint64_t timestampNs,
                                    std::span<const uint8_t> data, uint32_t originalLength);

  // An Interface Statistics Block for `interfaceId` at `timestampNs`.
  static std::string interfaceStatistics(uint32_t interfaceId, uint64_t timestampNs,
                                         const InterfaceStats& stats);
};

}  // namespace vnet::capture

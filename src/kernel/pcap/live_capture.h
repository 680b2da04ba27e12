// LiveCapture: one libpcap capture handle on one interface of the calling thread's
// network namespace, set up for an event loop: immediate mode, non-blocking, nanosecond
// timestamps, an optional BPF filter (pcap_compile syntax, as tcpdump takes it).
//
// The handle owns its pcap_t; selectableFd() belongs to it (dup it to hand it to an
// event loop that closes what it is given). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "base/error.h"

struct pcap;

namespace vnet::kernel {

struct CapturedPacket {
  uint64_t timestampNs = 0;       // since the epoch
  std::span<const uint8_t> data;  // the captured bytes (at most the snap length)
  uint32_t originalLength = 0;    // length on the wire
};

struct CaptureCounters {
  uint64_t received = 0;   // ps_recv
  uint64_t dropped = 0;    // ps_drop: no room in the capture buffer
  uint64_t ifDropped = 0;  // ps_ifdrop: dropped by the interface
};

class LiveCapture {
 public:
  // Opens and activates a capture on `interface` with `filter` (empty: everything).
  // Errors name the interface or quote the filter: "capture on vnet9: No such device
  // exists", "filter 'tcp port': syntax error".
  static Result<std::unique_ptr<LiveCapture>> open(const std::string& interface,
                                                   const std::string& filter, uint32_t snaplen);
  // Checks that `filter` compiles for Ethernet, without opening anything.
  static Status checkFilter(const std::string& filter, uint32_t snaplen);

  ~LiveCapture();
  LiveCapture(const LiveCapture&) = delete;
  LiveCapture& operator=(const LiveCapture&) = delete;

  const std::string& interface() const { return interface_; }
  // A descriptor that polls readable when packets may be ready; owned by this object.
  int selectableFd() const { return fd_; }
  // The DLT of the interface (DLT_EN10MB = 1 for Ethernet, bridges, taps, veths).
  int datalink() const;
  // When not 0, the fd alone is not enough and dispatch() must also run this often (ms).
  int requiredPollMs() const { return pollMs_; }

  // Delivers up to `max` ready packets to `fn` without blocking; returns how many
  // (0 when none were ready). `fn` must not keep the packet's data.
  Result<int> dispatch(int max, const std::function<void(const CapturedPacket&)>& fn);
  Result<CaptureCounters> counters();

 private:
  LiveCapture(pcap* handle, std::string interface, int fd, int pollMs)
      : handle_(handle), interface_(std::move(interface)), fd_(fd), pollMs_(pollMs) {}

  pcap* handle_;
  std::string interface_;
  int fd_;
  int pollMs_;
};

}  // namespace vnet::kernel

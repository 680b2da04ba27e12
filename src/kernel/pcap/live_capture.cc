#include "kernel/pcap/live_capture.h"

#include <pcap/pcap.h>

#include <memory>

namespace vnet::kernel {

namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
using PcapPtr = std::unique_ptr<pcap_t, PcapCloser>;

// The buffer the kernel fills between two dispatches (per interface).
constexpr int kBufferBytes = 4 << 20;

Status setFilter(pcap_t* p, const std::string& filter, const std::string& what) {
  bpf_program prog{};
  if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return Error::invalid("filter '" + filter + "': " + pcap_geterr(p));
  }
  int rc = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (rc != 0) return Error(what + ": setting filter '" + filter + "': " + pcap_geterr(p));
  return Status::success();
}

void onPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  auto* fn = reinterpret_cast<const std::function<void(const CapturedPacket&)>*>(user);
  CapturedPacket pkt;
  // Nanosecond precision was requested, so tv_usec holds nanoseconds.
  pkt.timestampNs =
      static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(h->ts.tv_usec);
  pkt.data = std::span<const uint8_t>(bytes, h->caplen);
  pkt.originalLength = h->len;
  (*fn)(pkt);
}

}  // namespace

Result<std::unique_ptr<LiveCapture>> LiveCapture::open(const std::string& interface,
                                                       const std::string& filter,
                                                       uint32_t snaplen) {
  const std::string what = "capture on " + interface;
  char err[PCAP_ERRBUF_SIZE] = {};
  PcapPtr p(pcap_create(interface.c_str(), err));
  if (!p) return Error(what + ": " + err);
  pcap_set_snaplen(p.get(), static_cast<int>(snaplen));
  pcap_set_promisc(p.get(), 0);
  pcap_set_immediate_mode(p.get(), 1);
  pcap_set_buffer_size(p.get(), kBufferBytes);
  pcap_set_tstamp_precision(p.get(), PCAP_TSTAMP_PRECISION_NANO);
  int rc = pcap_activate(p.get());
  if (rc < 0) {
    std::string detail = pcap_statustostr(rc);
    std::string text = pcap_geterr(p.get());
    if (!text.empty() && rc == PCAP_ERROR) detail = text;
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
      return Error(ErrorCode::NotFound, what + ": no such interface");
    }
    return Error(what + ": " + detail);
  }
  if (pcap_setnonblock(p.get(), 1, err) != 0) return Error(what + ": " + err);
  if (!filter.empty()) VNET_TRY(setFilter(p.get(), filter, what));
  int fd = pcap_get_selectable_fd(p.get());
  if (fd < 0) return Error(what + ": no selectable descriptor");
  int pollMs = 0;
  if (const timeval* t = pcap_get_required_select_timeout(p.get())) {
    pollMs = static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000);
    if (pollMs <= 0) pollMs = 1;
  }
  return std::unique_ptr<LiveCapture>(new LiveCapture(p.release(), interface, fd, pollMs));
}

Status LiveCapture::checkFilter(const std::string& filter, uint32_t snaplen) {
  if (filter.empty()) return Status::success();
  PcapPtr p(pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen)));
  if (!p) return Error("checking the filter: pcap_open_dead failed");
  bpf_program prog{};
  if (pcap_compile(p.get(), &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return Error::invalid("filter '" + filter + "': " + pcap_geterr(p.get()));
  }
  pcap_freecode(&prog);
  return Status::success();
}

LiveCapture::~LiveCapture() {
  pcap_close(handle_);
}

int LiveCapture::datalink() const {
  return pcap_datalink(handle_);
}

Result<int> LiveCapture::dispatch(int max, const std::function<void(const CapturedPacket&)>& fn) {
  // pcap_dispatch takes a non-const user pointer; onPacket only reads through it.
  auto* user =
      reinterpret_cast<u_char*>(const_cast<std::function<void(const CapturedPacket&)>*>(&fn));
  int n = pcap_dispatch(handle_, max, onPacket, user);
  if (n == PCAP_ERROR) return Error("capture on " + interface_ + ": " + pcap_geterr(handle_));
  if (n < 0) return 0;  // PCAP_ERROR_BREAK: nothing more now
  return n;
}

Result<CaptureCounters> LiveCapture::counters() {
  pcap_stat st{};
  if (pcap_stats(handle_, &st) != 0) {
    return Error("capture on " + interface_ + ": " + pcap_geterr(handle_));
  }
  return CaptureCounters{st.ps_recv, st.ps_drop, st.ps_ifdrop};
}

}  // namespace vnet::kernel

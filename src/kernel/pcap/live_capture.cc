#include "kernel/pcap/live_capture.h"

#include <dlfcn.h>
#include <pcap/pcap.h>

#include <memory>
#include <optional>

namespace vnet::kernel {

namespace {

// libpcap is opened on the first capture instead of being linked: it brings D-Bus, systemd,
// gcrypt and three compressors with it, 1.2 MB of resident pages that a vnetd which never
// captures would carry. Only the functions below are used.
struct PcapLib {
  decltype(&::pcap_create) create = nullptr;
  decltype(&::pcap_set_snaplen) set_snaplen = nullptr;
  decltype(&::pcap_set_promisc) set_promisc = nullptr;
  decltype(&::pcap_set_immediate_mode) set_immediate_mode = nullptr;
  decltype(&::pcap_set_buffer_size) set_buffer_size = nullptr;
  decltype(&::pcap_set_tstamp_precision) set_tstamp_precision = nullptr;
  decltype(&::pcap_activate) activate = nullptr;
  decltype(&::pcap_statustostr) statustostr = nullptr;
  decltype(&::pcap_geterr) geterr = nullptr;
  decltype(&::pcap_setnonblock) setnonblock = nullptr;
  decltype(&::pcap_get_selectable_fd) get_selectable_fd = nullptr;
  decltype(&::pcap_get_required_select_timeout) get_required_select_timeout = nullptr;
  decltype(&::pcap_open_dead) open_dead = nullptr;
  decltype(&::pcap_compile) compile = nullptr;
  decltype(&::pcap_setfilter) setfilter = nullptr;
  decltype(&::pcap_freecode) freecode = nullptr;
  decltype(&::pcap_close) close = nullptr;
  decltype(&::pcap_datalink) datalink = nullptr;
  decltype(&::pcap_dispatch) dispatch = nullptr;
  decltype(&::pcap_stats) stats = nullptr;
};

constexpr const char* kPcapSoname = "libpcap.so.0.8";  // Debian's libpcap0.8

// The loaded library, or the reason it could not be loaded. Loaded once; never unloaded.
Result<const PcapLib*> pcap() {
  static std::string error;
  static const std::optional<PcapLib> lib = []() -> std::optional<PcapLib> {
    void* h = ::dlopen(kPcapSoname, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = ::dlerror();
      error = std::string("cannot load ") + kPcapSoname + ": " + (e ? e : "dlopen failed");
      return std::nullopt;
    }
    PcapLib l;
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      if (fn == nullptr && ok) {
        ok = false;
        error = std::string(kPcapSoname) + " has no " + name;
      }
    };
    sym(l.create, "pcap_create");
    sym(l.set_snaplen, "pcap_set_snaplen");
    sym(l.set_promisc, "pcap_set_promisc");
    sym(l.set_immediate_mode, "pcap_set_immediate_mode");
    sym(l.set_buffer_size, "pcap_set_buffer_size");
    sym(l.set_tstamp_precision, "pcap_set_tstamp_precision");
    sym(l.activate, "pcap_activate");
    sym(l.statustostr, "pcap_statustostr");
    sym(l.geterr, "pcap_geterr");
    sym(l.setnonblock, "pcap_setnonblock");
    sym(l.get_selectable_fd, "pcap_get_selectable_fd");
    sym(l.get_required_select_timeout, "pcap_get_required_select_timeout");
    sym(l.open_dead, "pcap_open_dead");
    sym(l.compile, "pcap_compile");
    sym(l.setfilter, "pcap_setfilter");
    sym(l.freecode, "pcap_freecode");
    sym(l.close, "pcap_close");
    sym(l.datalink, "pcap_datalink");
    sym(l.dispatch, "pcap_dispatch");
    sym(l.stats, "pcap_stats");
    if (!ok) return std::nullopt;
    return l;
  }();
  if (!lib) return Error(error);
  return &*lib;
}

// Only called with a handle made through pcap(), so the library is loaded.
const PcapLib& loaded() {
  return **pcap();
}

struct PcapCloser {
  void operator()(pcap_t* p) const { loaded().close(p); }
};
using PcapPtr = std::unique_ptr<pcap_t, PcapCloser>;

// The buffer the kernel fills between two dispatches (per interface).
constexpr int kBufferBytes = 4 << 20;

Status setFilter(pcap_t* p, const std::string& filter, const std::string& what) {
  bpf_program prog{};
  const PcapLib& l = loaded();
  if (l.compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return Error::invalid("filter '" + filter + "': " + l.geterr(p));
  }
  int rc = l.setfilter(p, &prog);
  l.freecode(&prog);
  if (rc != 0) return Error(what + ": setting filter '" + filter + "': " + l.geterr(p));
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
  auto lib = pcap();
  if (!lib.ok()) return Error(what + ": " + lib.error().message());
  const PcapLib& l = **lib;
  char err[PCAP_ERRBUF_SIZE] = {};
  PcapPtr p(l.create(interface.c_str(), err));
  if (!p) return Error(what + ": " + err);
  l.set_snaplen(p.get(), static_cast<int>(snaplen));
  l.set_promisc(p.get(), 0);
  l.set_immediate_mode(p.get(), 1);
  l.set_buffer_size(p.get(), kBufferBytes);
  l.set_tstamp_precision(p.get(), PCAP_TSTAMP_PRECISION_NANO);
  int rc = l.activate(p.get());
  if (rc < 0) {
    std::string detail = l.statustostr(rc);
    std::string text = l.geterr(p.get());
    if (!text.empty() && rc == PCAP_ERROR) detail = text;
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
      return Error(ErrorCode::NotFound, what + ": no such interface");
    }
    return Error(what + ": " + detail);
  }
  if (l.setnonblock(p.get(), 1, err) != 0) return Error(what + ": " + err);
  if (!filter.empty()) VNET_TRY(setFilter(p.get(), filter, what));
  int fd = l.get_selectable_fd(p.get());
  if (fd < 0) return Error(what + ": no selectable descriptor");
  int pollMs = 0;
  if (const timeval* t = l.get_required_select_timeout(p.get())) {
    pollMs = static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000);
    if (pollMs <= 0) pollMs = 1;
  }
  return std::unique_ptr<LiveCapture>(new LiveCapture(p.release(), interface, fd, pollMs));
}

Status LiveCapture::checkFilter(const std::string& filter, uint32_t snaplen) {
  if (filter.empty()) return Status::success();
  auto lib = pcap();
  if (!lib.ok()) return Error("checking the filter: " + lib.error().message());
  const PcapLib& l = **lib;
  PcapPtr p(l.open_dead(DLT_EN10MB, static_cast<int>(snaplen)));
  if (!p) return Error("checking the filter: pcap_open_dead failed");
  bpf_program prog{};
  if (l.compile(p.get(), &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return Error::invalid("filter '" + filter + "': " + l.geterr(p.get()));
  }
  l.freecode(&prog);
  return Status::success();
}

LiveCapture::~LiveCapture() {
  loaded().close(handle_);
}

int LiveCapture::datalink() const {
  return loaded().datalink(handle_);
}

Result<int> LiveCapture::dispatch(int max, const std::function<void(const CapturedPacket&)>& fn) {
  // pcap_dispatch takes a non-const user pointer; onPacket only reads through it.
  auto* user =
      reinterpret_cast<u_char*>(const_cast<std::function<void(const CapturedPacket&)>*>(&fn));
  int n = loaded().dispatch(handle_, max, onPacket, user);
  if (n == PCAP_ERROR) {
    return Error("capture on " + interface_ + ": " + loaded().geterr(handle_));
  }
  if (n < 0) return 0;  // PCAP_ERROR_BREAK: nothing more now
  return n;
}

Result<CaptureCounters> LiveCapture::counters() {
  pcap_stat st{};
  if (loaded().stats(handle_, &st) != 0) {
    return Error("capture on " + interface_ + ": " + loaded().geterr(handle_));
  }
  return CaptureCounters{st.ps_recv, st.ps_drop, st.ps_ifdrop};
}

}  // namespace vnet::kernel

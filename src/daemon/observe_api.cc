#include "daemon/observe_api.h"

#include <spdlog/spdlog.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cmath>

#include "capture/pcapng.h"
#include "daemon/metrics.h"
#include "kernel/pcap/live_capture.h"

namespace vnet::daemon {

namespace asio = boost::asio;
using api::Params;
using api::Request;
using api::Response;

namespace {

// A subscriber's queue: at most this many events wait while the client is slow.
constexpr size_t kEventQueue = 1024;
constexpr size_t kMaxReplay = 1000;
// A capture drops packets (counted, reported in the Interface Statistics Blocks) while
// this much output waits for the client.
constexpr size_t kCaptureBacklog = 16u << 20;
// Packets handled per interface before the loop serves others.
constexpr int kDispatchBudget = 512;

uint64_t nowNs() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
}

bool flagValue(const std::map<std::string, std::string>& q, const char* key) {
  auto it = q.find(key);
  return it != q.end() &&
         (it->second.empty() || it->second == "1" || it->second == "true" || it->second == "yes");
}

Result<uint64_t> parseUnsigned(const std::string& key, const std::string& text, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) {
    return Error::invalid(key + ": '" + text + "' is not a whole number from 0 to " +
                          std::to_string(max));
  }
  return v;
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// --- events --------------------------------------------------------------------------

class EventStream final : public api::StreamSource,
                          public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(asio::io_context& io, EventBus& bus, std::string network, size_t replay)
      : io_(io), bus_(bus), network_(std::move(network)), replay_(replay) {}

  void start(std::shared_ptr<api::StreamSink> sink) override {
    sink_ = std::move(sink);
    std::weak_ptr<EventStream> weak = weak_from_this();
    sub_ = bus_.subscribe(network_, kEventQueue, [this, weak] {
      asio::post(io_, [weak] {
        if (auto self = weak.lock()) self->pump();
      });
    });
    std::string lines;
    for (const auto& e : bus_.recent(network_, replay_)) lines += eventJson(e) + "\n";
    if (!lines.empty()) sink_->write(std::move(lines));
    pump();
  }
  void drained() override { pump(); }
  void stop() override {
    sub_.reset();
    sink_.reset();
  }

 private:
  // Moves queued events to the client, but only when it took everything before: events
  // wait in the bounded subscription queue, not in the socket's buffer.
  void pump() {
    if (!sink_ || !sub_ || sink_->buffered() > 0) return;
    std::string lines;
    for (const auto& e : sub_->take()) lines += eventJson(e) + "\n";
    if (!lines.empty()) sink_->write(std::move(lines));
  }

  asio::io_context& io_;
  EventBus& bus_;
  std::string network_;
  size_t replay_;
  std::shared_ptr<api::StreamSink> sink_;
  std::unique_ptr<EventBus::Subscription> sub_;
};

// --- capture -------------------------------------------------------------------------

class CaptureStream final : public api::StreamSource,
                            public std::enable_shared_from_this<CaptureStream> {
 public:
  struct Source {
    std::unique_ptr<kernel::LiveCapture> capture;
    std::string description;
  };

  CaptureStream(asio::io_context& io, std::string network, std::vector<Source> sources,
                const CaptureRequest& req)
      : io_(io), network_(std::move(network)), req_(req), timer_(io) {
    for (auto& s : sources) {
      auto slot = std::make_unique<Slot>(io);
      slot->capture = std::move(s.capture);
      slot->description = std::move(s.description);
      slots_.push_back(std::move(slot));
    }
  }

  void start(std::shared_ptr<api::StreamSink> sink) override {
    sink_ = std::move(sink);
    std::string head = capture::PcapngWriter::sectionHeader("vnetd capture of network " + network_);
    for (const auto& s : slots_) {
      head += capture::PcapngWriter::interfaceDescription(capture::kLinktypeEthernet, req_.snaplen,
                                                          s->capture->interface(), s->description);
    }
    sink_->write(std::move(head));
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = *slots_[i];
      boost::system::error_code ec;
      s.fd.assign(::dup(s.capture->selectableFd()), ec);
      if (ec) {
        spdlog::warn("capture on {}: {}", s.capture->interface(), ec.message());
        s.dead = true;
        continue;
      }
      arm(i);
      if (s.capture->requiredPollMs() > 0) poll(i);
    }
    if (req_.durationSec > 0) {
      timer_.expires_after(
          std::chrono::microseconds(static_cast<int64_t>(std::llround(req_.durationSec * 1e6))));
      timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->complete();
      });
    }
    spdlog::info("network '{}': capture started on {} interface(s)", network_, slots_.size());
  }

  // The client ended the capture (or went away): the statistics go out when it can
  // still take them.
  void stop() override {
    if (!done_) {
      writeTrailer();
      halt();
    }
    sink_.reset();
    slots_.clear();
  }

 private:
  // Members are destroyed in reverse: timers and the descriptor leave the reactor
  // before the capture handle closes.
  struct Slot {
    explicit Slot(asio::io_context& io) : fd(io), pollTimer(io) {}
    std::unique_ptr<kernel::LiveCapture> capture;
    std::string description;
    asio::posix::stream_descriptor fd;  // a dup of the capture's selectable fd
    asio::steady_timer pollTimer;
    uint64_t written = 0;
    uint64_t dropped = 0;  // while the client was behind
    bool dead = false;     // the interface failed (gone)
  };

  void arm(size_t i) {
    slots_[i]->fd.async_wait(asio::posix::stream_descriptor::wait_read,
                             [weak = weak_from_this(), i](const boost::system::error_code& ec) {
                               auto self = weak.lock();
                               if (ec || !self || self->done_) return;
                               self->drain(i, true);
                             });
  }

  void poll(size_t i) {
    Slot& s = *slots_[i];
    s.pollTimer.expires_after(std::chrono::milliseconds(s.capture->requiredPollMs()));
    s.pollTimer.async_wait([weak = weak_from_this(), i](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->done_ || self->slots_[i]->dead) return;
      self->drain(i, false);
      if (!self->done_ && !self->slots_[i]->dead) self->poll(i);
    });
  }

  // Reads what is ready on slot i; re-arms the wait (rearm) or, when the budget ran out
  // with packets left, continues from a posted handler so other work gets its turn.
  void drain(size_t i, bool rearm) {
    Slot& s = *slots_[i];
    std::string batch;
    int handled = 0;
    bool more = false;
    while (!done_) {
      auto n = s.capture->dispatch(kDispatchBudget - handled, [&](const kernel::CapturedPacket& p) {
        take(s, static_cast<uint32_t>(i), p, batch);
      });
      if (!n) {
        // The interface went away (port deleted, network stopped): this slot is done,
        // the others go on; with none left the capture ends.
        spdlog::warn("network '{}': {}; no longer capturing there", network_, n.error().message());
        s.dead = true;
        boost::system::error_code ignored;
        s.fd.cancel(ignored);
        s.pollTimer.cancel();
        break;
      }
      if (*n == 0) break;
      handled += *n;
      if (handled >= kDispatchBudget) {
        more = true;
        break;
      }
    }
    if (!batch.empty() && sink_) sink_->write(std::move(batch));
    bool anyAlive = false;
    for (const auto& slot : slots_) anyAlive = anyAlive || !slot->dead;
    if ((req_.count > 0 && captured_ >= req_.count) || !anyAlive) complete();
    if (done_ || !rearm || s.dead) return;
    if (more) {
      asio::post(io_, [weak = weak_from_this(), i] {
        auto self = weak.lock();
        if (self && !self->done_ && !self->slots_[i]->dead) self->drain(i, true);
      });
    } else {
      arm(i);
    }
  }

  void take(Slot& s, uint32_t id, const kernel::CapturedPacket& p, std::string& batch) {
    if (req_.count > 0 && captured_ >= req_.count) return;
    if (!sink_ || sink_->buffered() + batch.size() > kCaptureBacklog) {
      ++s.dropped;
      return;
    }
    batch += capture::PcapngWriter::enhancedPacket(id, p.timestampNs, p.data, p.originalLength);
    ++s.written;
    ++captured_;
  }

  // The capture reached its count or duration: trailer, end of stream.
  void complete() {
    if (done_) return;
    writeTrailer();
    halt();
    if (sink_) sink_->close();
  }

  void writeTrailer() {
    if (!sink_) return;
    std::string tail;
    uint64_t ts = nowNs();
    uint64_t dropped = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = *slots_[i];
      capture::InterfaceStats st;
      st.received = s.written + s.dropped;
      st.droppedByUs = s.dropped;
      dropped += s.dropped;
      if (auto c = s.capture->counters()) {
        st.droppedByKernel = c->dropped + c->ifDropped;
      }
      tail += capture::PcapngWriter::interfaceStatistics(static_cast<uint32_t>(i), ts, st);
    }
    sink_->write(std::move(tail));
    spdlog::info("network '{}': capture ended: {} packet(s) written, {} dropped (client behind)",
                 network_, captured_, dropped);
  }

  void halt() {
    done_ = true;
    timer_.cancel();
    for (auto& s : slots_) {
      boost::system::error_code ignored;
      s->fd.cancel(ignored);
      s->pollTimer.cancel();
    }
  }

  asio::io_context& io_;
  std::string network_;
  CaptureRequest req_;
  asio::steady_timer timer_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::shared_ptr<api::StreamSink> sink_;
  uint64_t captured_ = 0;
  bool done_ = false;
};

}  // namespace

Result<CaptureRequest> parseCaptureRequest(const std::map<std::string, std::string>& q) {
  CaptureRequest r;
  if (auto it = q.find("ports"); it != q.end()) r.ports = splitList(it->second);
  r.bridge = flagValue(q, "bridge");
  r.uplink = flagValue(q, "uplink");
  if (auto it = q.find("count"); it != q.end()) {
    auto v = parseUnsigned("count", it->second, 1000000000);
    if (!v) return std::move(v).error();
    if (*v == 0) return Error::invalid("count: must be at least 1");
    r.count = *v;
  }
  if (auto it = q.find("duration"); it != q.end()) {
    const std::string& t = it->second;
    char* end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(d) || d <= 0 || d > 86400 * 7) {
      return Error::invalid("duration: '" + t +
                            "' is not a number of seconds above 0, at most 604800");
    }
    r.durationSec = d;
  }
  if (auto it = q.find("filter"); it != q.end()) r.filter = it->second;
  if (auto it = q.find("snaplen"); it != q.end()) {
    auto v = parseUnsigned("snaplen", it->second, 262144);
    if (!v) return std::move(v).error();
    if (*v < 64) return Error::invalid("snaplen: " + it->second + " is below 64 bytes");
    r.snaplen = static_cast<uint32_t>(*v);
  }
  return r;
}

Result<std::vector<std::pair<std::string, std::string>>> captureInterfaces(
    Manager& manager, kernel::Links& links, const std::string& network, const CaptureRequest& req) {
  auto st = manager.status(network);
  if (!st) return std::move(st).error();
  if (!st->active) return Error::conflict("network '" + network + "' is not active");
  auto def = manager.definition(network, false);
  if (!def) return std::move(def).error();
  auto ports = manager.ports(network);
  if (!ports) return std::move(ports).error();

  const bool all = req.ports.empty() && !req.bridge && !req.uplink;
  std::vector<std::pair<std::string, std::string>> out;
  auto addOnce = [&out](const std::string& name, std::string what) {
    for (const auto& o : out) {
      if (o.first == name) return;
    }
    out.emplace_back(name, std::move(what));
  };
  auto portDescription = [&network](const model::Port& p) {
    std::string d = "port of network " + network + " (" + model::portKindName(p.kind);
    if (p.kind != model::PortKind::Adopted) d += ", guest " + p.guestMac.toString();
    return d + ")";
  };
  if (all) {
    for (const auto& p : *ports) addOnce(p.name, portDescription(p));
  }
  for (const auto& name : req.ports) {
    const model::Port* found = nullptr;
    for (const auto& p : *ports) {
      if (p.name == name) found = &p;
    }
    if (!found) {
      std::string known;
      for (const auto& p : *ports) known += (known.empty() ? "" : ", ") + p.name;
      return Error::notFound("network '" + network + "' has no port " + name +
                             " (its ports: " + (known.empty() ? "none" : known) + ")");
    }
    addOnce(found->name, portDescription(*found));
  }
  if (all || req.bridge) addOnce((*def)->bridge.name, "bridge of network " + network);
  if (all || req.uplink) {
    std::string uplink = (*def)->forwardDev;
    if (uplink.empty()) {
      auto routes = links.routes();
      if (!routes) return std::move(routes).error().context("finding the uplink");
      for (const auto& r : *routes) {
        if (r.destination.prefix == 0 && r.destination.family() == Family::V4 &&
            !r.device.empty()) {
          uplink = r.device;
          break;
        }
      }
    }
    if (!uplink.empty()) {
      addOnce(uplink,
              "uplink (" +
                  std::string((*def)->forwardDev.empty() ? "default route" : "forward dev") + ")");
    } else if (req.uplink) {
      return Error::conflict("network '" + network +
                             "' has no uplink: no <forward dev> and no IPv4 default route");
    }
  }
  return out;
}

void addObserveRoutes(api::Router& r, ObserveContext ctx) {
  r.add("GET", "/metrics", [ctx](const Request&, const Params&) {
    return Response{200, metricsText(ctx.manager), kMetricsContentType};
  });

  r.add("GET", "/v1/events", [ctx](const Request& req, const Params&) {
    // A network that is not defined yet is fine: its network.defined event may come.
    std::string network;
    if (auto it = req.query.find("network"); it != req.query.end()) network = it->second;
    size_t replay = 0;
    if (auto it = req.query.find("recent"); it != req.query.end()) {
      auto v = parseUnsigned("recent", it->second, kMaxReplay);
      if (!v) return api::errorResponse(v.error());
      replay = *v;
    }
    Response resp{200, "", "application/x-ndjson"};
    resp.stream = std::make_shared<EventStream>(ctx.io, ctx.events, network, replay);
    return resp;
  });

  r.add("GET", "/v1/networks/{name}/capture", [ctx](const Request& req, const Params& p) {
    const std::string& network = p.at("name");
    auto creq = parseCaptureRequest(req.query);
    if (!creq) return api::errorResponse(creq.error());
    if (Status s = kernel::LiveCapture::checkFilter(creq->filter, creq->snaplen); !s.ok()) {
      return api::errorResponse(s.error());
    }
    auto ifaces = captureInterfaces(ctx.manager, ctx.links, network, *creq);
    if (!ifaces) return api::errorResponse(ifaces.error());
    std::vector<CaptureStream::Source> sources;
    for (const auto& [name, what] : *ifaces) {
      auto cap = kernel::LiveCapture::open(name, creq->filter, creq->snaplen);
      if (!cap) return api::errorResponse(cap.error());
      if ((*cap)->datalink() != capture::kLinktypeEthernet) {
        return api::errorResponse(
            Error::unsupported("capture on " + name + ": not an Ethernet interface"));
      }
      sources.push_back({std::move(*cap), what});
    }
    Response resp{200, "", "application/x-pcapng"};
    resp.stream = std::make_shared<CaptureStream>(ctx.io, network, std::move(sources), *creq);
    return resp;
  });
}

}  // namespace vnet::daemon

#include "daemon/tracer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "kernel/nft/trace_rules.h"

namespace vnet::daemon {

namespace {

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

// An address a guest's replies can be matched on: not unspecified, not IPv6 link-local.
std::optional<IpAddress> usableGuestAddress(const std::string& text) {
  auto a = IpAddress::parse(text);
  if (!a) return std::nullopt;
  if (a->isV4() && a->v4().toUint() == 0) return std::nullopt;
  if (a->isV6() &&
      (a->v6() == Ipv6() || (a->v6().bytes()[0] == 0xfe && (a->v6().bytes()[1] & 0xc0) == 0x80))) {
    return std::nullopt;
  }
  return a;
}

}  // namespace

Tracer::Tracer(boost::asio::io_context& io, Manager& manager, kernel::Tracing& tracing,
               kernel::ConntrackLookup& conntrack, TracerOptions options)
    : io_(io),
      manager_(manager),
      tracing_(tracing),
      conntrack_(conntrack),
      options_(options),
      assembler_(options.settle),
      settle_(io) {}

Tracer::~Tracer() {
  stopAll("stopped");
}

Status Tracer::removeLeftovers() {
  return tracing_.removeAllTraces();
}

Result<kernel::TraceMatch> Tracer::resolve(const TraceRequest& req, unsigned id) {
  auto status = manager_.status(req.network);
  if (!status) return std::move(status).error();
  if (!status->active) return Error::conflict("network " + quoted(req.network) + " is not active");
  auto def = manager_.definition(req.network, false);
  if (!def) return std::move(def).error();

  kernel::TraceMatch m;
  m.id = id;
  m.bridge = (*def)->bridge.name;
  if (req.port.empty())
    return Error::invalid("port: a port of network " + quoted(req.network) + " is required");
  auto ports = manager_.ports(req.network);
  if (!ports) return std::move(ports).error();
  auto port = std::find_if(ports->begin(), ports->end(),
                           [&](const model::Port& p) { return p.name == req.port; });
  if (port == ports->end()) {
    std::string names;
    for (const auto& p : *ports) names += (names.empty() ? "" : ", ") + p.name;
    return Error::notFound("network " + quoted(req.network) + " has no port " + quoted(req.port) +
                           " (its ports: " + (names.empty() ? "none" : names) + ")");
  }
  if (port->kind != model::PortKind::Adopted) {
    m.guestMac = port->guestMac;
  } else if (port->hostMac.bytes()[0] == 0xfe) {
    // libvirt's taps: host MAC = guest MAC with the first byte replaced by 0xFE.
    m.guestMac = port->hostMac;
    m.macLow5Only = true;
  } else {
    return Error::unsupported(
        "port " + quoted(req.port) + " was not made by vnetd and its MAC " +
        port->hostMac.toString() +
        " does not follow libvirt's fe:xx rule, so its guest's MAC is unknown");
  }
  m.guestIp = port->ip;

  if (!req.to.empty()) {
    m.to = IpAddress::parse(req.to);
    if (!m.to) return Error::invalid("to: " + quoted(req.to) + " is not an IPv4 or IPv6 address");
  }
  if (!req.proto.empty() && req.proto != "icmp" && req.proto != "icmpv6" && req.proto != "tcp" &&
      req.proto != "udp") {
    return Error::invalid("proto: " + quoted(req.proto) + " is not icmp, icmpv6, tcp or udp");
  }
  m.proto = req.proto;
  if (req.count > options_.maxCount) {
    return Error::invalid("count: at most " + std::to_string(options_.maxCount));
  }
  if (req.duration > options_.maxDuration) {
    return Error::invalid("duration: at most " + std::to_string(options_.maxDuration) + " s");
  }
  if (sessions_.size() >= options_.maxTraces) {
    return Error::conflict(std::to_string(sessions_.size()) +
                           " traces are running, the most vnetd runs at once; end one first");
  }
  return m;
}

Result<unsigned> Tracer::start(const TraceRequest& req, std::shared_ptr<TraceOutput> out) {
  const std::string ctx = "tracing port " + quoted(req.port) + " of network " + quoted(req.network);
  auto m = resolve(req, nextId_);
  if (!m) return std::move(m).error().context(ctx);

  if (!listening_) {
    Status s = tracing_.listen({[this](const kernel::TraceEvent& e) { onEvent(e); },
                                [this](const std::string& msg) { onProblem(msg); }});
    if (!s) return std::move(s).error().context(ctx);
    listening_ = true;
  }
  if (Status s = tracing_.addTrace(*m); !s) {
    if (sessions_.empty()) {
      tracing_.stopListening();
      listening_ = false;
    }
    return std::move(s).error().context(ctx);
  }
  const unsigned id = nextId_++;
  Session& s = sessions_[id];
  s.match = *m;
  s.out = std::move(out);
  s.count = req.count;
  if (req.duration > 0) {
    s.timer = std::make_unique<boost::asio::steady_timer>(io_, std::chrono::seconds(req.duration));
    s.timer->async_wait([this, id](const boost::system::error_code& ec) {
      if (ec) return;
      std::string reason = "duration";
      end(id, &reason);
    });
  }

  api::TraceStart st;
  st.id = id;
  st.network = req.network;
  st.port = req.port;
  st.bridge = m->bridge;
  st.guestMac = m->macLow5Only ? "xx" + m->guestMac.toString().substr(2) : m->guestMac.toString();
  st.guestIp = m->guestIp ? m->guestIp->toString() : "";
  st.to = m->to ? m->to->toString() : "";
  st.proto = m->proto;
  st.count = req.count;
  st.duration = req.duration;
  st.rules.push_back(kernel::nft::traceChainName(id) + " (prerouting, priority " +
                     std::to_string(kernel::nft::kTracePriority) +
                     "): " + kernel::nft::traceRule(*m));
  if (std::string r = kernel::nft::traceReplyRule(*m); !r.empty()) {
    st.rules.push_back(kernel::nft::traceReplyChainName(id) + " (prerouting, priority " +
                       std::to_string(kernel::nft::kTraceReplyPriority) + "): " + r);
  }
  s.out->send(st);
  spdlog::info("trace {} started: port {} of network '{}'", id, req.port, req.network);
  return id;
}

void Tracer::cancel(unsigned id) {
  end(id, nullptr);
}

void Tracer::stopAll(const std::string& reason) {
  while (!sessions_.empty()) end(sessions_.begin()->first, &reason);
}

void Tracer::end(unsigned id, const std::string* reason, const std::string& detail) {
  auto node = sessions_.extract(id);
  if (node.empty()) return;
  Session& s = node.mapped();
  if (s.timer) s.timer->cancel();
  std::string problem;
  if (Status st = tracing_.removeTrace(id); !st) {
    problem = st.error().message();
    spdlog::error("trace {}: {}", id, problem);
  }
  if (sessions_.empty() && listening_) {
    tracing_.stopListening();
    listening_ = false;
    (void)assembler_.takeAll();
    settle_.cancel();
    settleArmed_ = false;
  }
  if (reason) {
    api::TraceEnd e{*reason, s.shown, detail};
    if (!problem.empty()) e.detail += (e.detail.empty() ? "" : "; ") + problem;
    s.out->send(e);
    s.out->close();
  }
  spdlog::info("trace {} ended ({}): {} packets", id, reason ? *reason : "client gone", s.shown);
}

void Tracer::learnGuestAddress(Session& s, const kernel::TraceEvent& e) {
  if (s.match.guestIp || e.traceReply || e.handle == 0 || e.network.empty()) return;
  ParsedPacket p = parsePacket(e.network, e.transport);
  auto a = usableGuestAddress(p.info.src);
  if (!a || (s.match.to && s.match.to->family() != a->family())) return;
  s.match.guestIp = a;
  if (Status st = tracing_.followReplies(s.match); !st) {
    s.out->send(api::TraceNote{"replies to the guest are not traced: " + st.error().message()});
    return;
  }
  s.out->send(api::TraceNote{"the guest sends from " + a->toString() +
                             "; replies to it are traced from now on (" +
                             kernel::nft::traceReplyChainName(s.match.id) + ": " +
                             kernel::nft::traceReplyRule(s.match) + ")"});
}

void Tracer::onEvent(const kernel::TraceEvent& e) {
  if (e.traceId != 0) {
    auto it = sessions_.find(e.traceId);
    if (it != sessions_.end() && e.type == kernel::TraceEvent::Type::Rule) {
      learnGuestAddress(it->second, e);
    }
  }
  assembler_.add(e, TraceAssembler::Clock::now());
  armSettle();
}

void Tracer::onProblem(const std::string& message) {
  spdlog::warn("trace: {}", message);
  for (auto& [id, s] : sessions_) s.out->send(api::TraceNote{message});
}

void Tracer::armSettle() {
  if (settleArmed_) return;
  auto deadline = assembler_.nextDeadline();
  if (!deadline) return;
  settleArmed_ = true;
  settle_.expires_at(*deadline);
  settle_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    settleArmed_ = false;
    deliver(assembler_.take(TraceAssembler::Clock::now()));
    armSettle();
  });
}

void Tracer::deliver(std::vector<AssembledPacket> packets) {
  for (auto& a : packets) {
    // Source NAT happens after the last chain a packet leaving the host meets; conntrack
    // knows what it became once the packet is out.
    if (!a.toGuest && a.first.tuple && a.packet.fate.verdict == "accepted") {
      auto entry = conntrack_.find(*a.first.tuple);
      if (!entry) {
        spdlog::debug("trace: conntrack lookup: {}", entry.error().message());
      } else if (*entry) {
        if (auto nat = natFromConntrack(*a.first.tuple, **entry, a.packet.fate.oif)) {
          a.packet.nat.insert(a.packet.nat.begin(), *nat);
        }
      }
    }
    for (unsigned id : a.traces) {
      auto it = sessions_.find(id);
      if (it == sessions_.end()) continue;
      Session& s = it->second;
      api::TracePacket p = a.packet;
      p.seq = ++s.shown;
      s.out->send(p);
      if (s.count != 0 && s.shown >= s.count) {
        std::string reason = "count";
        end(id, &reason);
      }
    }
  }
}

}  // namespace vnet::daemon

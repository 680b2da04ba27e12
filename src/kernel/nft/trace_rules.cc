#include "kernel/nft/trace_rules.h"

#include <algorithm>
#include <charconv>

#include "kernel/nft/render.h"

namespace vnet::kernel::nft {
namespace {

const std::string kTableRef = std::string(kFamily) + " " + std::string(kTableName);
constexpr std::string_view kPrefix = "trace_";
constexpr std::string_view kReplySuffix = "_reply";

bool usableIfname(std::string_view s) {
  return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '/';
  });
}

const char* ipKeyword(const IpAddress& a) {
  return a.isV4() ? "ip" : "ip6";
}

// `meta l4proto ...` for proto; "icmp" to an IPv6 address means ICMPv6.
std::string protoMatch(const std::string& proto, const std::optional<IpAddress>& family) {
  if (proto.empty()) return "";
  if (proto == "icmpv6" || (proto == "icmp" && family && family->isV6())) {
    return "meta l4proto ipv6-icmp ";
  }
  return "meta l4proto " + proto + " ";
}

std::string macMatch(const TraceMatch& m) {
  if (!m.macLow5Only) return "ether saddr " + m.guestMac.toString() + " ";
  Mac::Bytes low = m.guestMac.bytes();
  low[0] = 0;
  return "ether saddr & 00:ff:ff:ff:ff:ff == " + Mac(low).toString() + " ";
}

std::string chainDecl(const std::string& name, int priority) {
  return "add chain " + kTableRef + " " + name + " { type filter hook prerouting priority " +
         std::to_string(priority) + "; policy accept; }\n";
}

}  // namespace

std::string traceChainName(unsigned id) {
  return std::string(kPrefix) + std::to_string(id);
}

std::string traceReplyChainName(unsigned id) {
  return traceChainName(id) + std::string(kReplySuffix);
}

std::optional<unsigned> traceIdOfChain(std::string_view chain) {
  if (!chain.starts_with(kPrefix)) return std::nullopt;
  chain.remove_prefix(kPrefix.size());
  if (chain.ends_with(kReplySuffix)) chain.remove_suffix(kReplySuffix.size());
  if (chain.empty() || chain.size() > 9 ||
      !std::all_of(chain.begin(), chain.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned id = 0;
  std::from_chars(chain.data(), chain.data() + chain.size(), id);
  // Only the canonical spelling (no leading zeros) is ours.
  if (std::to_string(id) != chain) return std::nullopt;
  return id;
}

bool isTraceChain(std::string_view chain) {
  return traceIdOfChain(chain).has_value();
}

Status checkTraceMatch(const TraceMatch& m) {
  if (!usableIfname(m.bridge)) {
    return Error::invalid("bridge name '" + m.bridge + "' is not a usable interface name");
  }
  if (m.proto != "" && m.proto != "icmp" && m.proto != "icmpv6" && m.proto != "tcp" &&
      m.proto != "udp") {
    return Error::invalid("protocol '" + m.proto + "': must be icmp, icmpv6, tcp or udp");
  }
  return Status::success();
}

std::string traceRule(const TraceMatch& m) {
  std::string r = "iifname \"" + m.bridge + "\" " + macMatch(m);
  if (m.to) r += std::string(ipKeyword(*m.to)) + " daddr " + m.to->toString() + " ";
  r += protoMatch(m.proto, m.to);
  return r + "meta nftrace set 1 comment \"vnet trace " + std::to_string(m.id) +
         ": from the guest\"";
}

std::string traceReplyRule(const TraceMatch& m) {
  if (!m.guestIp) return "";
  if (m.to && m.to->family() != m.guestIp->family()) return "";
  const char* kw = ipKeyword(*m.guestIp);
  std::string r =
      "ct direction reply ct original " + std::string(kw) + " saddr " + m.guestIp->toString() + " ";
  if (m.to) r += "ct original " + std::string(kw) + " daddr " + m.to->toString() + " ";
  r += protoMatch(m.proto, m.guestIp);
  return r + "meta nftrace set 1 comment \"vnet trace " + std::to_string(m.id) +
         ": replies to the guest\"";
}

std::string renderAddTrace(const TraceMatch& m) {
  const std::string chain = traceChainName(m.id);
  const std::string reply = traceReplyChainName(m.id);
  std::string out = "add table " + kTableRef + "\n";
  out += chainDecl(chain, kTracePriority);
  out += chainDecl(reply, kTraceReplyPriority);
  out += "flush chain " + kTableRef + " " + chain + "\n";
  out += "flush chain " + kTableRef + " " + reply + "\n";
  out += "add rule " + kTableRef + " " + chain + " " + traceRule(m) + "\n";
  if (std::string r = traceReplyRule(m); !r.empty()) {
    out += "add rule " + kTableRef + " " + reply + " " + r + "\n";
  }
  return out;
}

std::string renderFollowReplies(const TraceMatch& m) {
  const std::string reply = traceReplyChainName(m.id);
  std::string out = "flush chain " + kTableRef + " " + reply + "\n";
  if (std::string r = traceReplyRule(m); !r.empty()) {
    out += "add rule " + kTableRef + " " + reply + " " + r + "\n";
  }
  return out;
}

std::string renderRemoveTrace(unsigned id) {
  return renderRemoveTraceChains({traceChainName(id), traceReplyChainName(id)});
}

std::string renderRemoveTraceChains(const std::vector<std::string>& chains) {
  std::string out;
  for (const auto& c : chains) {
    if (isTraceChain(c)) out += "delete chain " + kTableRef + " " + c + "\n";
  }
  return out;
}

}  // namespace vnet::kernel::nft

#include "api/trace_record.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace vnet::api {

using nlohmann::json;

namespace {

constexpr const char* kArrow = "\xe2\x86\x92";  // →

std::string icmpName(int type, bool v6) {
  if (!v6) {
    switch (type) {
      case 0:
        return "echo-reply";
      case 3:
        return "destination-unreachable";
      case 5:
        return "redirect";
      case 8:
        return "echo-request";
      case 11:
        return "time-exceeded";
      default:
        break;
    }
  } else {
    switch (type) {
      case 1:
        return "destination-unreachable";
      case 2:
        return "packet-too-big";
      case 3:
        return "time-exceeded";
      case 128:
        return "echo-request";
      case 129:
        return "echo-reply";
      case 133:
        return "nd-router-solicit";
      case 134:
        return "nd-router-advert";
      case 135:
        return "nd-neighbor-solicit";
      case 136:
        return "nd-neighbor-advert";
      default:
        break;
    }
  }
  return "type " + std::to_string(type);
}

std::string withPort(const std::string& addr, bool v6, std::optional<uint16_t> port) {
  if (!port) return addr;
  return (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(*port);
}

// ---- JSON ----------------------------------------------------------------------------

template <typename T>
void putOpt(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}
void putStr(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

template <typename T>
std::optional<T> getOpt(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<T>();
}
std::string getStr(const json& j, const char* key) {
  return j.contains(key) ? j[key].get<std::string>() : std::string();
}

json toJson(const TraceStart& s) {
  return json{{"id", s.id},
              {"network", s.network},
              {"port", s.port},
              {"bridge", s.bridge},
              {"guestMac", s.guestMac},
              {"guestIp", s.guestIp},
              {"to", s.to},
              {"proto", s.proto},
              {"count", s.count},
              {"duration", s.duration},
              {"rules", s.rules}};
}

json toJson(const TraceStep& s) {
  json j{{"family", s.family}, {"table", s.table}, {"chain", s.chain}, {"kind", s.kind}};
  putStr(j, "hook", s.hook);
  putOpt(j, "priority", s.priority);
  if (s.kind == "rule") j["handle"] = s.handle;
  putStr(j, "rule", s.rule);
  putStr(j, "verdict", s.verdict);
  putStr(j, "target", s.target);
  putStr(j, "iif", s.iif);
  putStr(j, "oif", s.oif);
  if (s.ours) j["ours"] = true;
  if (s.trace) j["trace"] = true;
  return j;
}

json toJson(const PacketInfo& p) {
  json j = json::object();
  putStr(j, "family", p.family);
  putStr(j, "src", p.src);
  putStr(j, "dst", p.dst);
  putStr(j, "proto", p.proto);
  putOpt(j, "sport", p.sport);
  putOpt(j, "dport", p.dport);
  putOpt(j, "icmpType", p.icmpType);
  putOpt(j, "icmpCode", p.icmpCode);
  putOpt(j, "icmpId", p.icmpId);
  putOpt(j, "icmpSeq", p.icmpSeq);
  putStr(j, "tcpFlags", p.tcpFlags);
  if (p.length) j["length"] = p.length;
  j["text"] = p.describe();
  return j;
}

json toJson(const TraceNat& n) {
  return json{{"kind", n.kind},
              {"before", n.before},
              {"after", n.after},
              {"where", n.where},
              {"text", n.text}};
}

json toJson(const TraceFate& f) {
  json j{{"verdict", f.verdict}};
  putStr(j, "hook", f.hook);
  putStr(j, "family", f.family);
  putStr(j, "table", f.table);
  putStr(j, "chain", f.chain);
  putStr(j, "by", f.by);
  putStr(j, "rule", f.rule);
  if (f.handle) j["handle"] = f.handle;
  putStr(j, "oif", f.oif);
  return j;
}

json toJson(const TracePacket& p) {
  json steps = json::array();
  for (const auto& s : p.steps) steps.push_back(toJson(s));
  json nat = json::array();
  for (const auto& n : p.nat) nat.push_back(toJson(n));
  return json{{"seq", p.seq},
              {"traceId", p.traceId},
              {"direction", p.direction},
              {"packet", toJson(p.packet)},
              {"steps", steps},
              {"nat", nat},
              {"fate", toJson(p.fate)}};
}

TraceStart startFrom(const json& j) {
  TraceStart s;
  s.id = j.at("id").get<unsigned>();
  s.network = getStr(j, "network");
  s.port = getStr(j, "port");
  s.bridge = getStr(j, "bridge");
  s.guestMac = getStr(j, "guestMac");
  s.guestIp = getStr(j, "guestIp");
  s.to = getStr(j, "to");
  s.proto = getStr(j, "proto");
  s.count = j.value("count", 0u);
  s.duration = j.value("duration", 0u);
  if (j.contains("rules")) s.rules = j["rules"].get<std::vector<std::string>>();
  return s;
}

TraceStep stepFrom(const json& j) {
  TraceStep s;
  s.hook = getStr(j, "hook");
  s.family = getStr(j, "family");
  s.table = getStr(j, "table");
  s.chain = getStr(j, "chain");
  s.priority = getOpt<int>(j, "priority");
  s.kind = getStr(j, "kind");
  s.handle = j.value("handle", uint64_t{0});
  s.rule = getStr(j, "rule");
  s.verdict = getStr(j, "verdict");
  s.target = getStr(j, "target");
  s.iif = getStr(j, "iif");
  s.oif = getStr(j, "oif");
  s.ours = j.value("ours", false);
  s.trace = j.value("trace", false);
  return s;
}

PacketInfo packetFrom(const json& j) {
  PacketInfo p;
  p.family = getStr(j, "family");
  p.src = getStr(j, "src");
  p.dst = getStr(j, "dst");
  p.proto = getStr(j, "proto");
  p.sport = getOpt<uint16_t>(j, "sport");
  p.dport = getOpt<uint16_t>(j, "dport");
  p.icmpType = getOpt<int>(j, "icmpType");
  p.icmpCode = getOpt<int>(j, "icmpCode");
  p.icmpId = getOpt<uint16_t>(j, "icmpId");
  p.icmpSeq = getOpt<uint16_t>(j, "icmpSeq");
  p.tcpFlags = getStr(j, "tcpFlags");
  p.length = j.value("length", 0u);
  return p;
}

TracePacket tracePacketFrom(const json& j) {
  TracePacket p;
  p.seq = j.value("seq", 0u);
  p.traceId = j.value("traceId", uint32_t{0});
  p.direction = getStr(j, "direction");
  if (j.contains("packet")) p.packet = packetFrom(j["packet"]);
  for (const auto& s : j.value("steps", json::array())) p.steps.push_back(stepFrom(s));
  for (const auto& n : j.value("nat", json::array())) {
    p.nat.push_back({getStr(n, "kind"), getStr(n, "before"), getStr(n, "after"), getStr(n, "where"),
                     getStr(n, "text")});
  }
  if (j.contains("fate")) {
    const auto& f = j["fate"];
    p.fate.verdict = getStr(f, "verdict");
    p.fate.hook = getStr(f, "hook");
    p.fate.family = getStr(f, "family");
    p.fate.table = getStr(f, "table");
    p.fate.chain = getStr(f, "chain");
    p.fate.by = getStr(f, "by");
    p.fate.rule = getStr(f, "rule");
    p.fate.handle = f.value("handle", uint64_t{0});
    p.fate.oif = getStr(f, "oif");
  }
  return p;
}

// ---- Text ----------------------------------------------------------------------------

std::string padded(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size() + 1, ' ');
}

std::string verdictText(const TraceStep& s) {
  std::string v = s.verdict;
  if (!s.target.empty()) v += " " + s.target;
  return v;
}

std::string stepText(const TraceStep& s) {
  if (s.kind == "policy") return "policy " + s.verdict;
  if (s.kind == "return") {
    return s.verdict.empty() || s.verdict == "continue" ? "end of chain, back to the caller"
                                                        : "end of chain: " + verdictText(s);
  }
  std::string rule = s.rule.empty() ? "(rule handle " + std::to_string(s.handle) + ")" : s.rule;
  return "rule  " + rule + "  " + kArrow + " " + verdictText(s);
}

std::string renderStart(const TraceStart& s) {
  std::string out = "Tracing port " + s.port + " of network " + s.network + " (guest " +
                    s.guestMac + (s.guestIp.empty() ? "" : ", " + s.guestIp) +
                    "): " + (s.proto.empty() ? "all" : s.proto) + " packets" +
                    (s.to.empty() ? "" : " to " + s.to);
  std::vector<std::string> limits;
  if (s.count) limits.push_back(std::to_string(s.count) + " packet" + (s.count == 1 ? "" : "s"));
  if (s.duration) limits.push_back(std::to_string(s.duration) + " s");
  out += limits.empty() ? ", until interrupted"
                        : ", for " + limits[0] + (limits.size() > 1 ? " or " + limits[1] : "");
  out += " (trace " + std::to_string(s.id) + ").\n";
  out += "Trace rules in table inet vnet (removed when the trace ends):\n";
  for (const auto& r : s.rules) out += "  " + r + "\n";
  return out + "\n";
}

std::string renderFate(const TraceFate& f) {
  if (f.verdict == "accepted") {
    return "Fate: accepted by every chain it met" +
           (f.oif.empty() ? std::string() : ", leaves by " + f.oif) + "\n";
  }
  std::string where = "chain " + f.chain + " of table " + f.family + " " + f.table +
                      (f.hook.empty() ? "" : ", hook " + f.hook);
  std::string what = f.verdict == "dropped" ? "DROPPED" : f.verdict;
  if (f.by == "policy") return "Fate: " + what + " by the policy of " + where + "\n";
  std::string rule = f.rule.empty() ? "" : " \"" + f.rule + "\"";
  return "Fate: " + what + " by rule" + rule + " (handle " + std::to_string(f.handle) + ") in " +
         where + "\n";
}

std::string renderPacket(const TracePacket& p) {
  std::string out = "Packet " + std::to_string(p.seq) +
                    (p.direction == "to-guest" ? " to the guest: " : " from the guest: ") +
                    p.packet.endpoints() + " " + p.packet.describe();
  if (p.packet.length) out += ", " + std::to_string(p.packet.length) + " bytes";
  char id[16];
  std::snprintf(id, sizeof id, "%08x", p.traceId);
  out += " (trace id " + std::string(id) + ")\n";

  size_t hookW = 4, tableW = 5, chainW = 5;
  for (const auto& s : p.steps) {
    hookW = std::max(hookW, s.hook.size());
    tableW = std::max(tableW, s.family.size() + 1 + s.table.size());
    chainW = std::max(chainW, s.chain.size());
  }
  std::string iif, oif;
  for (const auto& s : p.steps) {
    // The trace chains' own policy lines say nothing about the packet.
    if (s.trace && s.kind == "policy") continue;
    out += "  " + padded(s.hook.empty() ? "?" : s.hook, hookW) +
           padded(s.family + " " + s.table, tableW) + padded(s.chain, chainW) + stepText(s);
    if ((!s.iif.empty() && s.iif != iif) || (!s.oif.empty() && s.oif != oif)) {
      std::vector<std::string> devs;
      if (!s.iif.empty()) devs.push_back("in " + s.iif);
      if (!s.oif.empty()) devs.push_back("out " + s.oif);
      out += "   [" + devs[0] + (devs.size() > 1 ? ", " + devs[1] : "") + "]";
      iif = s.iif.empty() ? iif : s.iif;
      oif = s.oif.empty() ? oif : s.oif;
    }
    out += "\n";
  }
  for (const auto& n : p.nat) out += "  NAT: " + n.text + "\n";
  out += "  " + renderFate(p.fate);
  return out + "\n";
}

}  // namespace

std::string PacketInfo::describe() const {
  bool v6 = family == "ipv6";
  if ((proto == "icmp" || proto == "ipv6-icmp") && icmpType) {
    std::string s = proto + " " + icmpName(*icmpType, v6);
    bool echo = v6 ? (*icmpType == 128 || *icmpType == 129) : (*icmpType == 0 || *icmpType == 8);
    if (echo && icmpId) s += " id " + std::to_string(*icmpId);
    if (echo && icmpSeq) s += " seq " + std::to_string(*icmpSeq);
    if (!echo && icmpCode && *icmpCode != 0) s += " code " + std::to_string(*icmpCode);
    return s;
  }
  if (proto == "tcp" && !tcpFlags.empty()) return "tcp [" + tcpFlags + "]";
  return proto.empty() ? "(not an IP packet)" : proto;
}

std::string PacketInfo::endpoints() const {
  if (src.empty() && dst.empty()) return "?";
  bool v6 = family == "ipv6";
  return withPort(src, v6, sport) + " " + kArrow + " " + withPort(dst, v6, dport);
}

std::string traceLine(const TraceRecord& r) {
  json j;
  if (const auto* s = std::get_if<TraceStart>(&r)) {
    j = json{{"type", "start"}, {"trace", toJson(*s)}};
  } else if (const auto* p = std::get_if<TracePacket>(&r)) {
    j = json{{"type", "packet"}, {"packet", toJson(*p)}};
  } else if (const auto* n = std::get_if<TraceNote>(&r)) {
    j = json{{"type", "note"}, {"message", n->message}};
  } else {
    const auto& e = std::get<TraceEnd>(r);
    j = json{{"type", "end"}, {"reason", e.reason}, {"packets", e.packets}};
    if (!e.detail.empty()) j["detail"] = e.detail;
  }
  // Invalid UTF-8 (a rule comment from another table) is replaced, never thrown on.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<TraceRecord> parseTraceLine(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Error::invalid("trace record is not a JSON object");
  try {
    std::string type = j.value("type", "");
    if (type == "start") return TraceRecord(startFrom(j.at("trace")));
    if (type == "packet") return TraceRecord(tracePacketFrom(j.at("packet")));
    if (type == "note") return TraceRecord(TraceNote{j.value("message", "")});
    if (type == "end") {
      return TraceRecord(
          TraceEnd{j.value("reason", ""), j.value("packets", 0u), j.value("detail", "")});
    }
    return Error::invalid("trace record of unknown type '" + type + "'");
  } catch (const json::exception& e) {
    return Error::invalid(std::string("malformed trace record: ") + e.what());
  }
}

std::string renderText(const TraceRecord& r) {
  if (const auto* s = std::get_if<TraceStart>(&r)) return renderStart(*s);
  if (const auto* p = std::get_if<TracePacket>(&r)) return renderPacket(*p);
  if (const auto* n = std::get_if<TraceNote>(&r)) return "Note: " + n->message + "\n\n";
  const auto& e = std::get<TraceEnd>(r);
  std::string why = e.reason == "count"      ? "the packet count was reached"
                    : e.reason == "duration" ? "the duration elapsed"
                    : e.reason == "stopped"  ? "vnetd is stopping"
                                             : e.reason;
  if (!e.detail.empty()) why += ": " + e.detail;
  return "Trace ended (" + why + "): " + std::to_string(e.packets) + " packet" +
         (e.packets == 1 ? "" : "s") + " shown; its rules were removed.\n";
}

}  // namespace vnet::api

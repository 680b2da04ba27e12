// stats, capture, events: what a network is doing.
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>

#include "api/json_text.h"
#include "cmd/vnetctl/cli.h"

namespace vnetctl {

using nlohmann::json;

namespace {

// The socket of the running stream, for the signal handler.
std::atomic<int> gStreamFd{-1};

void onInterrupt(int) {
  int fd = gStreamFd.load();
  // Half-close: vnetd ends the stream (a capture writes its statistics) and closes.
  if (fd >= 0) ::shutdown(fd, SHUT_WR);
}

// The first Ctrl-C ends the stream cleanly; a second one kills (SA_RESETHAND).
void catchInterrupts() {
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string num(const json& j, const char* key) {
  if (!j.contains(key)) return "-";
  return std::to_string(j[key].get<uint64_t>());
}

std::vector<std::string> linkRow(const std::string& name, const std::string& ip, const json& l) {
  if (!l.is_object()) return {name, ip, "-", "-", "-", "-", "-"};
  return {name,
          ip,
          num(l, "rx_packets"),
          num(l, "rx_bytes"),
          num(l, "tx_packets"),
          num(l, "tx_bytes"),
          num(l, "rx_dropped") + "/" + num(l, "tx_dropped")};
}

std::string countersLine(const json& c) {
  std::string out;
  for (const auto& [k, v] : c.items()) {
    if (!out.empty()) out += ", ";
    std::string key = k;
    std::replace(key.begin(), key.end(), '_', ' ');
    out += key + " " + (v.is_number() ? std::to_string(v.get<uint64_t>()) : v.dump());
  }
  return out.empty() ? "-" : out;
}

void printStats(const json& s) {
  std::cout << "Network " << s.value("name", "");
  if (!s.value("active", false)) {
    std::cout << " is not active\n";
    return;
  }
  std::cout << " (bridge " << s.value("bridge", "") << ")\n\n";
  std::vector<std::vector<std::string>> rows;
  if (s.contains("network"))
    rows.push_back(linkRow(s.value("bridge", "") + " (bridge)", "", s["network"]));
  for (const auto& p : s.value("ports", json::array())) {
    std::string ip = p.value("ip", "-");
    rows.push_back(linkRow(p.value("name", ""), ip, p.contains("link") ? p["link"] : json()));
  }
  printTable({"Interface", "Guest IP", "RX packets", "RX bytes", "TX packets", "TX bytes",
              "Dropped rx/tx"},
             rows);
  std::cout << "(a port's RX is what its guest sent; the bridge's RX is what guests sent to the "
               "host or beyond)\n";
  if (s.contains("nat")) {
    std::cout << "NAT sessions:  " << num(s["nat"], "sessions") << " ("
              << num(s["nat"], "translated") << " with a translated source)\n";
  }
  std::cout << "DHCP:          " << countersLine(s.value("dhcp", json::object())) << "\n";
  std::cout << "DNS:           " << countersLine(s.value("dns", json::object())) << "\n";
  std::cout << "Repairs:       " << s.value("repairs", uint64_t{0});
  if (s.contains("lastRepair")) std::cout << " (last: " << s.value("lastRepair", "") << ")";
  std::cout << "\n";
  for (const auto& [k, v] : s.items()) {
    // Counters other parts of vnetd add without this verb knowing them.
    static const char* known[] = {"name", "active", "bridge",  "network",    "ports", "nat",
                                  "dhcp", "dns",    "repairs", "lastRepair", "errors"};
    if (std::find(std::begin(known), std::end(known), k) != std::end(known)) continue;
    std::cout << k << ": " << (v.is_object() ? countersLine(v) : v.dump()) << "\n";
  }
  for (const auto& e : s.value("errors", json::array())) {
    std::cerr << "warning: " << e.get<std::string>() << "\n";
  }
}

// Counts the pcapng blocks of a capture as they stream by (for the summary line). The
// data comes from vnetd; lengths are still checked before use.
class PcapngTally {
 public:
  void feed(std::string_view data) {
    if (broken_) return;
    buf_.append(data);
    size_t off = 0;
    while (buf_.size() - off >= 12) {
      uint32_t type = 0, len = 0;
      std::memcpy(&type, buf_.data() + off, 4);
      std::memcpy(&len, buf_.data() + off + 4, 4);
      if (len < 12 || len % 4 != 0) {
        broken_ = true;
        break;
      }
      if (buf_.size() - off < len) break;
      if (type == 6) ++packets_;
      if (type == 1) interfaces_.push_back(ifName(std::string_view(buf_).substr(off, len)));
      off += len;
    }
    buf_.erase(0, off);
  }
  uint64_t packets() const { return packets_; }
  const std::vector<std::string>& interfaces() const { return interfaces_; }

 private:
  // if_name (option 2) of an Interface Description Block.
  static std::string ifName(std::string_view b) {
    size_t off = 16;
    while (off + 4 <= b.size() - 4) {
      uint16_t code = 0, len = 0;
      std::memcpy(&code, b.data() + off, 2);
      std::memcpy(&len, b.data() + off + 2, 2);
      if (code == 0 || off + 4 + len > b.size() - 4) break;
      if (code == 2) return std::string(b.substr(off + 4, len));
      off += 4 + ((len + 3u) & ~3u);
    }
    return "?";
  }
  std::string buf_;
  bool broken_ = false;
  uint64_t packets_ = 0;
  std::vector<std::string> interfaces_;
};

std::string formatEventText(const json& e) {
  std::string line = e.value("time", "") + "  " + e.value("type", "");
  if (e.contains("network")) line += "  " + e.value("network", "");
  const json details = e.value("details", json::object());
  for (const auto& [k, v] : details.items()) {
    line += "  " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return line;
}

}  // namespace

void addObserveVerbs(CLI::App& app, Globals& g) {
  {
    auto* c =
        app.add_subcommand("stats", "packets, bytes, drops, NAT sessions, DHCP and DNS counters");
    auto* net = g.slot();
    auto* port = g.slot();
    c->add_option("network", *net)->required();
    c->add_option("--port", *port, "only this port");
    c->callback([&g, net, port] {
      std::string target = networkPath(*net) + "/stats";
      if (!port->empty()) target += "?port=" + vnet::api::urlEncode(*port);
      json s = callJson(g, "GET", target);
      if (g.json()) {
        std::cout << vnet::api::jsonText(s, 2) << "\n";
        return;
      }
      printStats(s);
    });
  }
  {
    auto* c = app.add_subcommand(
        "capture", "capture packets on a network's ports, bridge and uplink into one pcapng file");
    auto* net = g.slot();
    auto* ports = g.slot();
    auto* file = g.slot();
    auto* count = g.slot();
    auto* duration = g.slot();
    auto* snaplen = g.slot();
    auto* bridge = g.flagSlot();
    auto* uplink = g.flagSlot();
    auto* filter = &g.words;
    c->add_option("network", *net)->required();
    c->add_option("--ports", *ports, "ports to capture on, comma-separated (vnet0,vnet1)");
    c->add_flag("--bridge", *bridge, "capture on the bridge");
    c->add_flag("--uplink", *uplink,
                "capture on the uplink (forward dev or default route's device)");
    c->add_option("-w,--write", *file, "the pcapng file to write ('-' for standard output)")
        ->required();
    auto* co = c->add_option("--count", *count, "stop after this many packets");
    auto* du = c->add_option("--duration", *duration, "stop after this many seconds");
    co->excludes(du);
    c->add_option("--snaplen", *snaplen, "bytes kept per packet (default 262144)");
    c->add_option("filter", *filter, "a pcap filter expression, as tcpdump takes it");
    c->footer(
        "Without --ports/--bridge/--uplink: every port, the bridge and the uplink.\n"
        "Ctrl-C ends the capture cleanly. Read the file with tshark -r FILE or Wireshark.");
    c->callback([&g, net, ports, file, count, duration, snaplen, bridge, uplink, filter] {
      std::string q;
      auto param = [&q](const std::string& k, const std::string& v) {
        q += (q.empty() ? "?" : "&") + k + "=" + vnet::api::urlEncode(v);
      };
      if (!ports->empty()) param("ports", *ports);
      if (*bridge) param("bridge", "1");
      if (*uplink) param("uplink", "1");
      if (!count->empty()) param("count", *count);
      if (!duration->empty()) param("duration", *duration);
      if (!snaplen->empty()) param("snaplen", *snaplen);
      std::string expr;
      for (const auto& w : *filter) expr += (expr.empty() ? "" : " ") + w;
      if (!expr.empty()) param("filter", expr);

      const bool toStdout = *file == "-";
      std::ofstream out;
      PcapngTally tally;
      catchInterrupts();
      vnet::Status s = g.client().stream(
          "GET", networkPath(*net) + "/capture" + q,
          [&](std::string_view data) {
            tally.feed(data);
            if (toStdout) {
              std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
              std::cout.flush();
              return static_cast<bool>(std::cout);
            }
            // Flushed per piece: what arrived is on disk even if vnetctl is killed.
            out.write(data.data(), static_cast<std::streamsize>(data.size()));
            out.flush();
            return static_cast<bool>(out);
          },
          [&](int fd) {
            // The file is created only once vnetd accepted the capture.
            if (!toStdout) {
              out.open(*file, std::ios::binary | std::ios::trunc);
              if (!out) throw Failure{"cannot write " + *file + ": " + std::strerror(errno)};
            }
            gStreamFd = fd;
          });
      gStreamFd = -1;
      if (!s.ok()) throw Failure{s.error().message()};
      if (!toStdout) {
        out.close();
        if (!out) throw Failure{"writing " + *file + " failed"};
      }
      std::string names;
      for (const auto& n : tally.interfaces()) names += (names.empty() ? "" : ", ") + n;
      std::cerr << tally.packets() << " packet(s) captured on " << names
                << (toStdout ? "" : " into " + *file) << "\n";
    });
  }
  {
    auto* c = app.add_subcommand("events", "print vnetd's events as they happen (Ctrl-C ends)");
    auto* net = g.slot();
    auto* recent = g.slot();
    c->add_option("--net", *net, "only events of this network");
    c->add_option("--recent", *recent, "first replay up to N recent events");
    c->callback([&g, net, recent] {
      std::string q;
      if (!net->empty()) q += "?network=" + vnet::api::urlEncode(*net);
      if (!recent->empty())
        q += std::string(q.empty() ? "?" : "&") + "recent=" + vnet::api::urlEncode(*recent);
      std::string partial;
      catchInterrupts();
      vnet::Status s = g.client().stream(
          "GET", "/v1/events" + q,
          [&](std::string_view data) {
            partial.append(data);
            size_t nl;
            while ((nl = partial.find('\n')) != std::string::npos) {
              std::string line = partial.substr(0, nl);
              partial.erase(0, nl + 1);
              if (g.json()) {
                std::cout << line << std::endl;
                continue;
              }
              json e = json::parse(line, nullptr, false);
              std::cout << (e.is_object() ? formatEventText(e) : line) << std::endl;
            }
            return static_cast<bool>(std::cout);
          },
          [](int fd) { gStreamFd = fd; });
      gStreamFd = -1;
      if (!s.ok()) throw Failure{s.error().message()};
    });
  }
}

}  // namespace vnetctl

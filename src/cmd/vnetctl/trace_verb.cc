// trace: follow a guest's packets through the host's nftables rules. vnetd does the
// tracing (it runs in the host's network namespace) and streams JSON lines; this prints
// them as text, or passes them through with -o json.
#include <iostream>

#include "api/trace_record.h"
#include "cmd/vnetctl/cli.h"

namespace vnetctl {

namespace {

struct TraceOptions {
  std::string network, port, to, proto;
  unsigned count = 0;
  unsigned duration = 0;
};

void runTrace(const Globals& g, const TraceOptions& o) {
  using vnet::api::urlEncode;
  std::string target = networkPath(o.network) + "/trace?port=" + urlEncode(o.port);
  if (!o.to.empty()) target += "&to=" + urlEncode(o.to);
  if (!o.proto.empty()) target += "&proto=" + urlEncode(o.proto);
  if (o.count) target += "&count=" + std::to_string(o.count);
  if (o.duration) target += "&duration=" + std::to_string(o.duration);

  std::string pending;
  bool ended = false;
  auto onLine = [&](const std::string& line) {
    auto record = vnet::api::parseTraceLine(line);
    if (record && std::holds_alternative<vnet::api::TraceEnd>(*record)) ended = true;
    if (g.json()) {
      std::cout << line << "\n" << std::flush;
    } else if (record) {
      std::cout << vnet::api::renderText(*record) << std::flush;
    } else {
      std::cerr << "warning: " << record.error().message() << "\n";
    }
  };
  vnet::Status s = g.client().stream("GET", target, [&](std::string_view data) {
    pending.append(data);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty()) onLine(line);
    }
    return true;
  });
  if (!s.ok()) throw Failure{s.error().message()};
  if (!ended)
    throw Failure{
        "the trace stopped without an end record (vnetd stopped or closed the connection)"};
}

}  // namespace

void addTraceVerbs(CLI::App& app, Globals& g) {
  static TraceOptions o;
  auto* c = app.add_subcommand(
      "trace",
      "follow a guest's packets through the host: every hook, table, chain, rule and verdict "
      "they meet, the NAT applied, and what dropped them");
  c->add_option("network", o.network)->required();
  c->add_option("--port", o.port, "the guest's port (vnetN, see port-list)")->required();
  c->add_option("--to", o.to, "only packets to this address (and replies from it)");
  c->add_option("--proto", o.proto, "only this protocol: icmp, icmpv6, tcp or udp");
  c->add_option("--count", o.count, "stop after this many packets (default: no limit)");
  c->add_option("--duration", o.duration, "stop after this many seconds (default: no limit)");
  c->footer(
      "Stops at --count or --duration, or on Ctrl-C; vnetd then removes its trace rules.\n"
      "Example: vnetctl trace default --port vnet0 --proto icmp --count 2");
  c->callback([&g] { runTrace(g, o); });
}

}  // namespace vnetctl

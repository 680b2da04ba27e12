// port-add / port-del / port-list: guest ports (taps for QEMU, veths into containers).
#include <iostream>

#include "api/json_text.h"
#include "cmd/vnetctl/cli.h"

namespace vnetctl {

using nlohmann::json;

void addPortVerbs(CLI::App& app, Globals& g) {
  {
    auto* c =
        app.add_subcommand("port-add", "add a guest port: --tap for QEMU, --netns for a container");
    auto* net = g.slot();
    auto* name = g.slot();
    auto* mac = g.slot();
    auto* netns = g.slot();
    auto* ifname = g.slot();
    auto* owner = &g.ownerSlot;
    c->add_option("network", *net)->required();
    auto* tap = g.flagSlot();
    auto* tapOpt = c->add_flag(
        "--tap", *tap, "a persistent tap (QEMU: -netdev tap,ifname=NAME,script=no,downscript=no)");
    auto* ns =
        c->add_option("--netns", *netns,
                      "a veth pair with the peer in this netns (name under /run/netns or a path)");
    tapOpt->excludes(ns);
    c->add_option("--name", *name, "host interface name (default: next vnetN)");
    c->add_option("--mac", *mac, "the guest's MAC (default: random 52:54:00:xx:xx:xx)");
    c->add_option("--owner", *owner, "uid allowed to use the tap")->check(CLI::NonNegativeNumber);
    c->add_option("--ifname", *ifname, "interface name inside the netns (default eth0)");
    c->callback([&g, net, name, mac, netns, ifname, owner, tap] {
      if (!*tap && netns->empty()) throw Failure{"port-add needs --tap or --netns"};
      json req{{"kind", *tap ? "tap" : "veth"}};
      if (!name->empty()) req["name"] = *name;
      if (!mac->empty()) req["mac"] = *mac;
      if (*owner >= 0) req["owner"] = *owner;
      if (!netns->empty()) req["netns"] = *netns;
      if (!ifname->empty()) req["ifname"] = *ifname;
      json p = callJson(g, "POST", networkPath(*net) + "/ports", vnet::api::jsonText(req));
      if (g.json()) {
        std::cout << vnet::api::jsonText(p, 2) << "\n";
        return;
      }
      std::cout << "Port " << p.value("name", "") << " added to network " << *net << " (guest MAC "
                << p.value("mac", "") << ", host MAC " << p.value("hostMac", "") << ")\n";
      if (p.value("kind", "") == "tap") {
        std::cout << "QEMU: -netdev tap,id=net0,ifname=" << p.value("name", "")
                  << ",script=no,downscript=no -device virtio-net-pci,netdev=net0,mac="
                  << p.value("mac", "") << "\n";
      }
    });
  }
  {
    auto* c = app.add_subcommand("port-del", "remove a guest port");
    auto* net = g.slot();
    auto* port = g.slot();
    c->add_option("network", *net)->required();
    c->add_option("port", *port)->required();
    c->callback([&g, net, port] {
      call(g, "DELETE", networkPath(*net) + "/ports/" + vnet::api::urlEncode(*port));
      std::cout << "Port " << *port << " removed from network " << *net << "\n";
    });
  }
  {
    auto* c = app.add_subcommand("port-list", "list a network's guest ports");
    auto* net = g.slot();
    c->add_option("network", *net)->required();
    c->callback([&g, net] {
      json ports = callJson(g, "GET", networkPath(*net) + "/ports");
      if (g.json()) {
        std::cout << vnet::api::jsonText(ports, 2) << "\n";
        return;
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : ports) {
        rows.push_back({p.value("name", ""), p.value("kind", ""), p.value("mac", "-"),
                        p.value("hostMac", ""), p.value("netns", "-"), p.value("ip", "-")});
      }
      printTable({"Port", "Kind", "Guest MAC", "Host MAC", "Netns", "IP"}, rows);
    });
  }
}

}  // namespace vnetctl

// vnetctl net-autorepair: drift repair on/off per network, and what it has repaired.
#include <cstdio>
#include <iostream>

#include "api/json_text.h"
#include "cmd/vnetctl/cli.h"

namespace vnetctl {

using nlohmann::json;

void addRepairVerbs(CLI::App& app, Globals& g) {
  auto* c = app.add_subcommand(
      "net-autorepair",
      "drift repair of a network (on by default): show it, or turn it --enable / --disable");
  auto* name = g.slot();
  c->add_option("network", *name)->required();
  auto* enable = g.flagSlot();
  auto* disable = g.flagSlot();
  auto* en = c->add_flag("--enable", *enable,
                         "restore the network when its bridge, addresses or rules drift");
  c->add_flag("--disable", *disable, "leave drift alone")->excludes(en);
  c->callback([&g, name, enable, disable] {
    if (*enable || *disable) {
      const bool on = *enable;
      call(g, "POST", networkPath(*name) + "/autorepair",
           vnet::api::jsonText(json{{"enabled", on}}));
      std::cout << "Network " << *name << (on ? ": drift repair on" : ": drift repair off") << "\n";
      return;
    }
    json n = callJson(g, "GET", networkPath(*name));
    json s = callJson(g, "GET", networkPath(*name) + "/stats");
    if (g.json()) {
      json out{{"name", *name},
               {"autorepair", n.value("autorepair", true)},
               {"repairs", s.value("repairs", 0)}};
      if (s.contains("lastRepair")) out["lastRepair"] = s["lastRepair"];
      std::cout << vnet::api::jsonText(out, 2) << "\n";
      return;
    }
    std::printf("%-15s %s\n", "Autorepair:", yesNo(n.value("autorepair", true)));
    std::printf("%-15s %llu\n",
                "Repairs:", static_cast<unsigned long long>(s.value("repairs", uint64_t{0})));
    if (s.contains("lastRepair")) {
      std::printf("%-15s %s\n", "Last repair:", s["lastRepair"].get<std::string>().c_str());
    }
  });
}

}  // namespace vnetctl

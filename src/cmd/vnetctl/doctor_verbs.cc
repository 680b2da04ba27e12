// doctor [NET]: what stops guests' traffic, with evidence and fixes. Exit status 0 when
// there is no error finding (warnings allowed), 2 when there is one, 1 when vnetd could
// not be asked.
#include <cctype>
#include <iostream>

#include "api/json_text.h"
#include "cmd/vnetctl/cli.h"

namespace vnetctl {
namespace {

using nlohmann::json;

// `text` word-wrapped to `width` columns, every line starting with `indent`.
std::string wrap(const std::string& text, const std::string& indent, size_t width = 100) {
  std::string out, line;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

void printFinding(const json& f) {
  std::string sev = f.value("severity", "");
  for (auto& c : sev) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::cout << sev << " [" << f.value("check", "") << "]";
  if (f.contains("network") && f["network"].is_string()) {
    std::cout << " network " << f["network"].get<std::string>();
  }
  std::cout << "\n" << wrap(f.value("what", ""), "  ");
  for (const char* part : {"evidence", "fix"}) {
    if (!f.contains(part) || !f[part].is_array() || f[part].empty()) continue;
    std::cout << "  " << part << ":\n";
    for (const auto& line : f[part]) {
      if (line.is_string()) std::cout << "    " << line.get<std::string>() << "\n";
    }
  }
  std::cout << "\n";
}

}  // namespace

void addDoctorVerbs(CLI::App& app, Globals& g) {
  auto* c = app.add_subcommand(
      "doctor",
      "find what breaks guests' traffic (firewall drops, forwarding, routes, ports, kernel)");
  auto* net = g.slot();
  c->add_option("network", *net, "only this network's findings (plus host-wide ones)");
  c->callback([&g, net] {
    const std::string path = net->empty() ? "/v1/doctor" : networkPath(*net) + "/doctor";
    json r = callJson(g, "GET", path);
    const int errors = r.value("errors", 0);
    const int warnings = r.value("warnings", 0);
    if (errors > 0) g.exitStatus = 2;
    if (g.json()) {
      std::cout << vnet::api::jsonText(r, 2) << "\n";
      return;
    }
    const json& findings = r.contains("findings") ? r["findings"] : json::array();
    for (const auto& f : findings) printFinding(f);
    if (findings.empty()) {
      std::cout << "No problems found" << (net->empty() ? "" : " for network " + *net) << ".\n";
    } else {
      std::cout << errors << " error(s), " << warnings << " warning(s).\n";
    }
  });
}

}  // namespace vnetctl

// net-* verbs, named and worded like virsh's.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

#include "api/json_text.h"
#include "cmd/vnetctl/cli.h"

namespace vnetctl {

using nlohmann::json;

namespace {

void printJson(const json& j) {
  std::cout << vnet::api::jsonText(j, 2) << "\n";
}

std::string findNameByUuid(const Globals& g, const std::string& uuid) {
  for (const auto& n : callJson(g, "GET", "/v1/networks?all=1")) {
    if (n.value("uuid", "") == uuid) return n.value("name", "");
  }
  throw Failure{"no network with uuid " + uuid};
}

// Runs `cmd` with /bin/sh, `arg` as $1; returns its exit status (-1 if it could not run).
int runShell(const std::string& cmd, const std::string& arg) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), "sh", arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void netEdit(const Globals& g, const std::string& name) {
  std::string xml = call(g, "GET", networkPath(name) + "/xml?inactive=1");
  char tmpl[] = "/tmp/vnetctl-edit-XXXXXX.xml";
  int fd = ::mkstemps(tmpl, 4);
  if (fd < 0) throw Failure{std::string("creating a temporary file: ") + std::strerror(errno)};
  ::close(fd);
  std::string path = tmpl;
  struct Remove {
    std::string p;
    ~Remove() { ::unlink(p.c_str()); }
  } remove{path};
  std::ofstream(path) << xml;
  const char* editor = std::getenv("VISUAL");
  if (!editor || !*editor) editor = std::getenv("EDITOR");
  // Like virsh: $VISUAL or $EDITOR is a shell word list ("code --wait"), the file its last
  // argument.
  std::string editorCmd = std::string(editor && *editor ? editor : "vi") + " \"$1\"";
  if (runShell(editorCmd, path) != 0) throw Failure{"editor exited with an error; nothing changed"};
  std::string edited = readInputFile(path);
  if (edited == xml) {
    std::cout << "Network " << name << " XML configuration not changed.\n";
    return;
  }
  call(g, "PUT", networkPath(name), edited, "application/xml");
  std::cout << "Network " << name << " XML configuration edited.\n";
}

std::string formatExpiry(int64_t expiry) {
  if (expiry == 0) return "never";
  std::time_t t = static_cast<std::time_t>(expiry);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

void addNetVerbs(CLI::App& app, Globals& g) {
  {
    auto* c = app.add_subcommand("net-list", "list networks (active only unless --all)");
    auto* all = g.flagSlot();
    c->add_flag("--all", *all, "include inactive networks");
    c->callback([&g, all] {
      json list = callJson(g, "GET", std::string("/v1/networks") + (*all ? "?all=1" : ""));
      if (g.json()) return printJson(list);
      std::vector<std::vector<std::string>> rows;
      for (const auto& n : list) {
        rows.push_back({n.value("name", ""), n.value("active", false) ? "active" : "inactive",
                        yesNo(n.value("autostart", false)), yesNo(n.value("persistent", true))});
      }
      printTable({"Name", "State", "Autostart", "Persistent"}, rows);
    });
  }
  {
    auto* c = app.add_subcommand("net-info", "show a network's state");
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    c->callback([&g, name] {
      json n = callJson(g, "GET", networkPath(*name));
      json ports = json::array();
      if (n.value("active", false)) ports = callJson(g, "GET", networkPath(*name) + "/ports");
      if (g.json()) {
        n["ports"] = ports;
        return printJson(n);
      }
      std::printf("%-15s %s\n", "Name:", n.value("name", "").c_str());
      std::printf("%-15s %s\n", "UUID:", n.value("uuid", "").c_str());
      std::printf("%-15s %s\n", "Active:", yesNo(n.value("active", false)));
      std::printf("%-15s %s\n", "Persistent:", yesNo(n.value("persistent", true)));
      std::printf("%-15s %s\n", "Autostart:", yesNo(n.value("autostart", false)));
      std::printf("%-15s %s\n", "Autorepair:", yesNo(n.value("autorepair", true)));
      std::printf("%-15s %s\n", "Bridge:", n.value("bridge", "").c_str());
      std::printf("%-15s %s\n", "Forward:", n.value("mode", "").c_str());
      if (ports.empty()) return;
      // The IP comes from the guest's DHCP lease, else from the host's neighbour table
      // (guests with static addresses, once they talked to the host).
      std::printf("\n");
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : ports) {
        rows.push_back({p.value("name", ""), p.value("kind", ""), p.value("mac", "-"),
                        p.value("hostMac", ""), p.value("ip", "-"), p.value("ipSource", "-")});
      }
      printTable({"Port", "Kind", "Guest MAC", "Host MAC", "IP", "IP from"}, rows);
    });
  }
  {
    auto* c = app.add_subcommand("net-rules",
                                 "show the nftables rules a network's traffic meets, and why");
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    c->callback([&g, name] {
      json r = callJson(g, "GET", networkPath(*name) + "/rules");
      if (g.json()) return printJson(r);
      std::string chain;
      bool first = true;
      for (const auto& rule : r.value("rules", json::array())) {
        if (rule.value("chain", "") != chain) {
          chain = rule.value("chain", "");
          std::string hook = rule.value("hook", "");
          std::printf("%schain %s%s\n", first ? "" : "\n", chain.c_str(),
                      hook.empty() ? "" : ("  (" + hook + ")").c_str());
          first = false;
        }
        std::printf("  %-72s # %s\n", rule.value("rule", "").c_str(),
                    rule.value("comment", "").c_str());
      }
      std::printf("\n%s's entries in the sets these rules look up (table %s):\n", name->c_str(),
                  r.value("table", "").c_str());
      for (const auto& e : r.value("elements", json::array())) {
        std::string chainText = e.value("chain", "");
        std::printf("  %-14s %s%s\n", e.value("set", "").c_str(), e.value("key", "").c_str(),
                    chainText.empty() ? "" : (" : jump " + chainText).c_str());
      }
    });
  }
  {
    auto* c = app.add_subcommand("net-dumpxml", "print a network's XML definition");
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    auto* inactive = g.flagSlot();
    c->add_flag("--inactive", *inactive, "the persistent definition, not the running one");
    c->callback([&g, name, inactive] {
      std::string xml =
          call(g, "GET", networkPath(*name) + "/xml" + (*inactive ? "?inactive=1" : ""));
      if (g.json()) return printJson(json{{"name", *name}, {"xml", xml}});
      std::cout << xml;
    });
  }
  for (auto [verb, start] : {std::pair{"net-define", false}, std::pair{"net-create", true}}) {
    auto* c = app.add_subcommand(verb, start ? "create and start a transient network from XML"
                                             : "define a persistent network from XML");
    auto* file = g.slot();
    c->add_option("file", *file, "libvirt <network> XML")->required();
    c->callback([&g, file, start = start] {
      std::string xml = readInputFile(*file);
      // Sent as XML, not wrapped in JSON: escaping would make a file near the limit too big.
      json n = callJson(g, "POST", std::string("/v1/networks") + (start ? "?start=1" : ""), xml,
                        "application/xml");
      std::cout << "Network " << n.value("name", "")
                << (start ? " created from " : " defined from ") << *file << "\n";
    });
  }
  struct Simple {
    const char* verb;
    const char* help;
    const char* method;
    const char* suffix;
    const char* done;
  };
  for (const Simple& s :
       {Simple{"net-start", "start a defined network", "POST", "/start", "started"},
        Simple{"net-destroy", "stop a network (transient ones vanish)", "POST", "/stop",
               "destroyed"},
        Simple{"net-undefine", "remove a persistent definition", "DELETE", "",
               "has been undefined"}}) {
    auto* c = app.add_subcommand(s.verb, s.help);
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    c->callback([&g, name, s] {
      call(g, s.method, networkPath(*name) + s.suffix);
      std::cout << "Network " << *name << " " << s.done << "\n";
    });
  }
  {
    auto* c = app.add_subcommand("net-autostart", "start a network when vnetd starts");
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    auto* disable = g.flagSlot();
    c->add_flag("--disable", *disable, "do not autostart");
    c->callback([&g, name, disable] {
      bool on = !*disable;
      call(g, "POST", networkPath(*name) + "/autostart",
           vnet::api::jsonText(json{{"enabled", on}}));
      std::cout << "Network " << *name
                << (on ? " marked as autostarted" : " unmarked as autostarted") << "\n";
    });
  }
  {
    auto* c = app.add_subcommand("net-uuid", "print a network's UUID");
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    c->callback([&g, name] {
      json n = callJson(g, "GET", networkPath(*name));
      if (g.json()) return printJson(json{{"name", *name}, {"uuid", n.value("uuid", "")}});
      std::cout << n.value("uuid", "") << "\n";
    });
  }
  {
    auto* c = app.add_subcommand("net-name", "print the name of the network with a UUID");
    auto* uuid = g.slot();
    c->add_option("uuid", *uuid)->required();
    c->callback([&g, uuid] {
      std::string name = findNameByUuid(g, *uuid);
      if (g.json()) return printJson(json{{"name", name}, {"uuid", *uuid}});
      std::cout << name << "\n";
    });
  }
  {
    auto* c = app.add_subcommand("net-dhcp-leases", "list a network's DHCP leases");
    auto* name = g.slot();
    auto* mac = g.slot();
    c->add_option("network", *name)->required();
    c->add_option("--mac", *mac, "only the lease of this MAC");
    c->callback([&g, name, mac] {
      std::string target = networkPath(*name) + "/leases";
      if (!mac->empty()) target += "?mac=" + vnet::api::urlEncode(*mac);
      json leases = callJson(g, "GET", target);
      if (g.json()) return printJson(leases);
      std::vector<std::vector<std::string>> rows;
      for (const auto& l : leases) {
        std::string host = l.value("hostname", "");
        std::string cid = l.value("clientId", "");
        rows.push_back({formatExpiry(l.value("expiry", int64_t{0})), l.value("mac", ""),
                        l.value("protocol", "ipv4"),
                        l.value("ip", "") + "/" + std::to_string(l.value("prefix", 0)),
                        host.empty() ? "-" : host, cid.empty() ? "-" : cid});
      }
      printTable(
          {"Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID"},
          rows);
    });
  }
  {
    auto* c = app.add_subcommand(
        "net-update", "change part of a network live and in its definition, like virsh net-update");
    auto* name = g.slot();
    auto* command = g.slot();
    auto* section = g.slot();
    auto* xml = g.slot();
    c->add_option("network", *name)->required();
    c->add_option("command", *command, "add | add-first | add-last | delete | modify")->required();
    c->add_option("section", *section,
                  "ip-dhcp-host | ip-dhcp-range | dns-host | dns-txt | dns-srv")
        ->required();
    c->add_option("xml", *xml, "the element's XML, or a file containing it")->required();
    auto* parent = c->add_option("--parent-index", g.parentIndex, "which <ip> (0-based)");
    (void)parent;
    auto* live = g.flagSlot();
    auto* cfg = g.flagSlot();
    c->add_flag("--live", *live, "accepted for virsh compatibility (changes apply live)");
    c->add_flag("--config", *cfg, "accepted for virsh compatibility (the definition is updated)");
    c->callback([&g, name, command, section, xml] {
      std::string text = *xml;
      if (text.find('<') == std::string::npos) text = readInputFile(text);
      json req{{"command", *command}, {"section", *section}, {"xml", text}};
      if (g.parentIndex >= 0) req["parentIndex"] = g.parentIndex;
      call(g, "POST", networkPath(*name) + "/update", vnet::api::jsonText(req));
      std::cout << "Updated network " << *name << " live state and persistent config\n";
    });
  }
  {
    auto* c = app.add_subcommand("net-edit", "edit the persistent definition in $EDITOR");
    auto* name = g.slot();
    c->add_option("network", *name)->required();
    c->callback([&g, name] { netEdit(g, *name); });
  }
}

}  // namespace vnetctl

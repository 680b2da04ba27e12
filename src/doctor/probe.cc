#include "doctor/probe.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <set>

#include "doctor/procfs.h"

namespace vnet::doctor {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Whether a modules list (modules.builtin / modules.dep) names the module file `ko`
// ("kernel/net/bridge/bridge.ko", compressed or not).
bool listsModule(const std::string& file, const std::string& ko) {
  auto text = readTextFile(file);
  if (!text) return false;
  for (size_t at = text->find(ko); at != std::string::npos; at = text->find(ko, at + 1)) {
    const bool startOk = at == 0 || (*text)[at - 1] == '/' || (*text)[at - 1] == '\n';
    if (startOk) return true;
  }
  return false;
}

FeatureFact probeTun(const ProbeEnv& env) {
  const std::string path = env.devRoot + "/net/tun";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return {false, path + " does not exist (" + std::strerror(errno) + ")"};
  }
  if (!S_ISCHR(st.st_mode)) return {false, path + " is not a character device"};
  return {true, path + " is a character device"};
}

FeatureFact probeBridge(const ProbeEnv& env, const std::vector<kernel::LinkInfo>& links) {
  for (const auto& l : links) {
    if (l.kind == "bridge") return {true, "bridge " + l.name + " exists"};
  }
  if (exists(env.sysRoot + "/module/bridge")) return {true, env.sysRoot + "/module/bridge exists"};
  std::string release = env.kernelRelease;
  if (release.empty()) {
    struct utsname u {};
    if (::uname(&u) == 0) release = u.release;
  }
  const std::string dir = env.modulesRoot + "/" + release;
  if (listsModule(dir + "/modules.builtin", "bridge.ko")) {
    return {true, dir + "/modules.builtin lists bridge.ko"};
  }
  if (listsModule(dir + "/modules.dep", "bridge.ko")) {
    return {true, dir + "/modules.dep lists bridge.ko (loaded on demand)"};
  }
  return {false, "no bridge exists, " + env.sysRoot + "/module/bridge is absent and neither " +
                     dir + "/modules.builtin nor modules.dep lists bridge.ko"};
}

}  // namespace

std::vector<std::string> hostSysctls() {
  return {"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
          "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"};
}

Facts gatherFacts(const ProbeEnv& env, std::vector<NetworkFacts> networks) {
  Facts f;
  f.selfPid = env.selfPid != 0 ? env.selfPid : static_cast<int>(::getpid());
  f.networks = std::move(networks);

  if (env.links) {
    if (auto links = env.links->listLinks()) {
      f.links = std::move(*links);
    } else {
      f.probeErrors.push_back(links.error().context("listing links").message());
    }
    for (const auto& l : f.links) {
      if (auto a = env.links->addresses(l.name)) f.addresses[l.name] = std::move(*a);
    }
    if (auto routes = env.links->routes()) {
      f.routes = std::move(*routes);
    } else {
      f.probeErrors.push_back(routes.error().message());
    }
  } else {
    f.probeErrors.push_back("no netlink access: links, addresses and routes are unknown");
  }
  for (auto& n : f.networks) {
    const kernel::LinkInfo* br = f.link(n.def.bridge.name);
    if (!br) continue;
    for (const auto& l : f.links) {
      if (l.masterIndex == br->ifindex && l.masterIndex != 0) n.ports.push_back(l.name);
    }
  }

  std::vector<std::string> paths = hostSysctls();
  std::set<std::string> uplinks;
  for (const auto& r : f.routes) {
    if (r.destination.prefix == 0 && !r.device.empty()) uplinks.insert(r.device);
  }
  for (const auto& dev : uplinks) {
    for (const char* key : {"accept_ra", "forwarding", "disable_ipv6"}) {
      paths.push_back("net/ipv6/conf/" + dev + "/" + key);
    }
  }
  for (const auto& p : paths) {
    if (auto v = readTextFile(env.procRoot + "/sys/" + p)) {
      std::string s = std::move(*v);
      while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
      f.sysctls[p] = s;
    }
  }

  if (env.listRuleset) {
    auto listing = env.listRuleset();
    if (!listing) {
      f.probeErrors.push_back(listing.error().message());
    } else if (auto rs = parseRuleset(listing->json, listing->text)) {
      f.ruleset = std::move(*rs);
    } else {
      f.probeErrors.push_back(rs.error().message());
    }
  } else {
    f.probeErrors.push_back("no nftables access: the ruleset is unknown");
  }

  if (auto sockets = listSockets(env.procRoot)) {
    f.sockets = std::move(*sockets);
    if (env.boundDevices && !f.sockets.empty()) {
      if (auto bound = env.boundDevices()) {
        for (auto& s : f.sockets) {
          auto it = bound->find(s.inode);
          if (it == bound->end()) continue;
          s.device = "ifindex " + std::to_string(it->second);
          for (const auto& l : f.links) {
            if (l.ifindex == it->second) s.device = l.name;
          }
        }
      } else {
        f.probeErrors.push_back(
            bound.error().context("reading the sockets' bound devices").message());
      }
    }
  } else {
    f.probeErrors.push_back(sockets.error().context("listing sockets").message());
  }

  if (env.checkNat) {
    Status nat = env.checkNat();
    f.natFeature =
        nat.ok()
            ? FeatureFact{true,
                          "a check-only nft batch with an inet nat chain and masquerade passed"}
            : FeatureFact{false,
                          "a check-only nft batch with an inet nat chain and masquerade failed: " +
                              nat.error().message()};
  } else {
    f.natFeature = {true, "not checked"};
  }
  f.bridgeFeature = probeBridge(env, f.links);
  f.tunFeature = probeTun(env);
  return f;
}

}  // namespace vnet::doctor

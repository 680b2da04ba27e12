#include "daemon/net_update.h"

#include <algorithm>

#include "config/xml.h"

namespace vnet::daemon {

namespace {

enum class Command { Add, AddFirst, Delete, Modify };

Result<Command> parseCommand(const std::string& c) {
  if (c == "add" || c == "add-last") return Command::Add;
  if (c == "add-first") return Command::AddFirst;
  if (c == "delete") return Command::Delete;
  if (c == "modify") return Command::Modify;
  return Error::invalid("unknown net-update command '" + c +
                        "' (add, add-first, add-last, delete, modify)");
}

Result<model::IpConfig*> parentIp(model::Network& net, int index) {
  if (index >= 0) {
    if (static_cast<size_t>(index) >= net.ips.size()) {
      return Error::invalid("parentIndex " + std::to_string(index) + ": the network has " +
                            std::to_string(net.ips.size()) + " <ip> element(s), indexed from 0");
    }
    return &net.ips[static_cast<size_t>(index)];
  }
  for (auto& ip : net.ips) {
    if (ip.family == Family::V4 && ip.hasDhcp) return &ip;
  }
  for (auto& ip : net.ips) {
    if (ip.family == Family::V4) return &ip;
  }
  return Error::invalid("network has no IPv4 <ip> to update");
}

// Generic add/delete/modify over one list. `same` decides which existing entry the new
// one refers to (for delete/modify) or collides with (for add); `format` writes an entry as
// XML for messages, `path` is the list's element path ("network/ip[1]/dhcp/host").
template <typename T, typename Same, typename Format>
Status edit(std::vector<T>& list, T item, Command cmd, Same same, Format format,
            const std::string& what, const std::string& path) {
  auto it = std::find_if(list.begin(), list.end(), [&](const T& x) { return same(x, item); });
  // XML on one line: "<host ip='10.0.0.5'><hostname>web</hostname></host>".
  auto show = [&](const T& x) {
    std::string out;
    bool indent = false;
    for (char c : format(x)) {
      if (c == '\n') {
        indent = true;
      } else if (!(indent && c == ' ')) {
        indent = false;
        out += c;
      }
    }
    return out;
  };
  auto existing = [&] {
    return path + "[" + std::to_string(it - list.begin() + 1) + "] " + show(*it);
  };
  switch (cmd) {
    case Command::Add:
    case Command::AddFirst:
      if (it != list.end()) {
        return Error::conflict("there is already a " + what + " that matches " + show(item) + ": " +
                               existing());
      }
      list.insert(cmd == Command::AddFirst ? list.begin() : list.end(), std::move(item));
      return Status::success();
    case Command::Delete:
      if (it == list.end()) return Error::notFound("no " + what + " matches " + show(item));
      list.erase(it);
      return Status::success();
    case Command::Modify:
      if (it == list.end()) return Error::notFound("no " + what + " matches " + show(item));
      *it = std::move(item);
      return Status::success();
  }
  return Status::success();
}

std::string dhcpPath(const model::Network& net, const model::IpConfig* ip) {
  return "network/ip[" + std::to_string(ip - net.ips.data() + 1) + "]/dhcp";
}

bool sameHost(const model::DhcpHost& a, const model::DhcpHost& b, Command cmd) {
  if (a.mac && b.mac && *a.mac == *b.mac) return true;
  if (!a.id.empty() && a.id == b.id) return true;
  // Delete may name the host by ip or name alone; add must not reuse either.
  if (cmd != Command::Modify) {
    if (a.ip && b.ip && *a.ip == *b.ip) return true;
    if (!a.name.empty() && a.name == b.name) return true;
  }
  return false;
}

}  // namespace

Status applyUpdate(model::Network& net, const UpdateRequest& req) {
  auto cmd = parseCommand(req.command);
  if (!cmd) return std::move(cmd).error();
  model::Network edited = net;
  Status s;
  if (req.section == "ip-dhcp-host") {
    auto host = config::parseDhcpHostXml(req.xml);
    if (!host) return std::move(host).error().context(req.section);
    host->line = 0;  // lines of the fragment mean nothing in the network's paths
    auto ip = parentIp(edited, req.parentIndex);
    if (!ip) return std::move(ip).error();
    (*ip)->hasDhcp = true;
    s = edit((*ip)->hosts, std::move(*host), *cmd,
             [c = *cmd](const auto& a, const auto& b) { return sameHost(a, b, c); },
             config::formatDhcpHostXml, "DHCP host entry", dhcpPath(edited, *ip) + "/host");
  } else if (req.section == "ip-dhcp-range") {
    if (*cmd == Command::Modify) return Error::invalid("ip-dhcp-range supports add and delete");
    auto range = config::parseDhcpRangeXml(req.xml);
    if (!range) return std::move(range).error().context(req.section);
    range->line = 0;
    auto ip = parentIp(edited, req.parentIndex);
    if (!ip) return std::move(ip).error();
    (*ip)->hasDhcp = true;
    s = edit((*ip)->ranges, std::move(*range), *cmd,
             [](const auto& a, const auto& b) { return a.start == b.start && a.end == b.end; },
             config::formatDhcpRangeXml, "DHCP range", dhcpPath(edited, *ip) + "/range");
  } else if (req.section == "dns-host" || req.section == "dns-txt" || req.section == "dns-srv") {
    if (!edited.dnsElement) edited.dnsElement = model::Dns{};
    model::Dns& dns = *edited.dnsElement;
    if (req.section == "dns-host") {
      auto h = config::parseDnsHostXml(req.xml);
      if (!h) return std::move(h).error().context(req.section);
      h->line = 0;
      s = edit(
          dns.hosts, std::move(*h), *cmd, [](const auto& a, const auto& b) { return a.ip == b.ip; },
          config::formatDnsHostXml, "DNS host", "network/dns/host");
    } else if (req.section == "dns-txt") {
      auto t = config::parseDnsTxtXml(req.xml);
      if (!t) return std::move(t).error().context(req.section);
      t->line = 0;
      s = edit(
          dns.txts, std::move(*t), *cmd,
          [](const auto& a, const auto& b) { return a.name == b.name; }, config::formatDnsTxtXml,
          "DNS TXT record", "network/dns/txt");
    } else {
      auto r = config::parseDnsSrvXml(req.xml);
      if (!r) return std::move(r).error().context(req.section);
      r->line = 0;
      s = edit(
          dns.srvs, std::move(*r), *cmd,
          [](const auto& a, const auto& b) {
            return a.service == b.service && a.protocol == b.protocol && a.domain == b.domain &&
                   a.target == b.target;
          },
          config::formatDnsSrvXml, "DNS SRV record", "network/dns/srv");
    }
  } else {
    return Error::invalid("unsupported net-update section '" + req.section +
                          "' (ip-dhcp-host, ip-dhcp-range, dns-host, dns-txt, dns-srv)");
  }
  if (!s.ok()) return s;
  net = std::move(edited);
  return Status::success();
}

}  // namespace vnet::daemon

#include "daemon/api_service.h"

#include <malloc.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "api/json_text.h"
#include "config/json.h"
#include "config/xml.h"
#include "daemon/stats.h"
#include "kernel/nft/render.h"

namespace vnet::daemon {

using nlohmann::json;
using api::Params;
using api::Request;
using api::Response;

namespace {

json toJson(const NetworkStatus& s) {
  return json{{"name", s.name},           {"uuid", s.uuid},
              {"bridge", s.bridge},       {"mode", s.mode},
              {"active", s.active},       {"persistent", s.persistent},
              {"autostart", s.autostart}, {"autorepair", s.autorepair}};
}

json toJson(const model::Port& p) {
  json j{{"network", p.network},
         {"name", p.name},
         {"kind", model::portKindName(p.kind)},
         {"hostMac", p.hostMac.toString()}};
  if (p.kind != model::PortKind::Adopted) j["mac"] = p.guestMac.toString();
  if (p.owner) j["owner"] = *p.owner;
  if (!p.netns.empty()) j["netns"] = p.netns;
  if (!p.peerName.empty()) j["ifname"] = p.peerName;
  if (p.ip) j["ip"] = p.ip->toString();
  if (!p.ipSource.empty()) j["ipSource"] = p.ipSource;
  return j;
}

json toJson(const LeaseInfo& l) {
  return json{{"ip", l.ip.toString()},     {"prefix", l.prefix},
              {"mac", l.mac.toString()},   {"hostname", l.hostname},
              {"clientId", l.clientId},    {"expiry", l.expiry},
              {"protocol", l.ip.isV4() ? "ipv4" : "ipv6"}};
}

Response ok(const json& j, int status = 200) { return api::jsonResponse(status, api::jsonText(j, 2) + "\n"); }
Response fail(const Error& e) { return api::errorResponse(e); }

// The JSON array of leases, streamed a few hundred at a time with the same text as
// ok(array) would give, so that tens of thousands of leases never become one JSON tree
// or one string. When the last piece is out, the snapshot is freed and the heap trimmed:
// a listing leaves the daemon's resident memory where it was.
Response leaseList(std::vector<LeaseInfo> leases, std::optional<Mac> only) {
  struct State {
    std::vector<LeaseInfo> leases;
    std::optional<Mac> only;
    size_t next = 0;
    bool any = false;
  };
  auto st = std::make_shared<State>(State{std::move(leases), only});
  Response r;
  r.stream = api::pullStream([st](std::string& out) {
    constexpr size_t kPerPiece = 256;
    if (st->next == 0 && !st->any) out += '[';
    const size_t end = std::min(st->leases.size(), st->next + kPerPiece);
    for (; st->next < end; ++st->next) {
      const LeaseInfo& l = st->leases[st->next];
      if (st->only && l.mac != *st->only) continue;
      out += st->any ? ",\n  " : "\n  ";
      st->any = true;
      // One small object at a time, indented as one element of a 2-space array.
      const std::string obj = api::jsonText(toJson(l), 2);
      for (char c : obj) {
        out += c;
        if (c == '\n') out += "  ";
      }
    }
    if (st->next < st->leases.size()) return true;
    out += st->any ? "\n]\n" : "]\n";
    st->leases = {};
    malloc_trim(0);
    return false;
  });
  return r;
}

bool flag(const Request& r, const char* key) {
  auto it = r.query.find(key);
  return it != r.query.end() && (it->second.empty() || it->second == "1" || it->second == "true" ||
                                 it->second == "yes");
}

// Parses a JSON body (objects only); an empty body gives an empty object.
Result<json> jsonBody(const Request& r) {
  if (r.body.empty()) return json::object();
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Error::invalid("request body is not valid JSON");
  if (!j.is_object()) return Error::invalid("request body must be a JSON object");
  return j;
}

// The XML of a definition from any of the accepted body forms.
Result<std::string> definitionXml(const Request& r) {
  size_t first = r.body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && r.body[first] == '<') return r.body;
  auto j = jsonBody(r);
  if (!j) return std::move(j).error();
  if (j->contains("xml")) {
    if (!(*j)["xml"].is_string()) return Error::invalid("'xml' must be a string");
    return (*j)["xml"].get<std::string>();
  }
  if (j->contains("network")) {
    auto net = config::networkFromJson((*j)["network"]);
    if (!net) return std::move(net).error();
    return config::formatNetworkXml(*net);
  }
  return Error::invalid("request body needs \"xml\" or \"network\"");
}

Result<PortRequest> portRequest(const Request& r, const std::string& network) {
  auto j = jsonBody(r);
  if (!j) return std::move(j).error();
  PortRequest p;
  p.network = network;
  try {
    std::string kind = j->value("kind", "tap");
    if (kind != "tap" && kind != "veth") {
      return Error::invalid("kind: must be \"tap\" or \"veth\", not \"" + kind + "\"");
    }
    p.tap = kind == "tap";
    p.name = j->value("name", "");
    if (j->contains("mac")) {
      std::string mac = (*j)["mac"].get<std::string>();
      p.mac = Mac::parse(mac);
      if (!p.mac) return Error::invalid("mac: '" + mac + "' is not a MAC address");
    }
    if (j->contains("owner")) p.owner = (*j)["owner"].get<unsigned>();
    p.netns = j->value("netns", "");
    p.ifname = j->value("ifname", "");
  } catch (const json::exception& e) {
    return Error::invalid(std::string("port request: ") + e.what());
  }
  return p;
}

}  // namespace

api::Router makeApiRouter(Manager& m) {
  api::Router r;
  r.add("GET", "/v1/networks", [&m](const Request& req, const Params&) {
    json arr = json::array();
    for (const auto& s : m.list(flag(req, "all"))) arr.push_back(toJson(s));
    return ok(arr);
  });
  r.add("POST", "/v1/networks", [&m](const Request& req, const Params&) {
    auto xml = definitionXml(req);
    if (!xml) return fail(xml.error());
    auto s = flag(req, "start") ? m.create(*xml) : m.define(*xml);
    if (!s) return fail(s.error());
    return ok(toJson(*s), 201);
  });
  r.add("GET", "/v1/networks/{name}", [&m](const Request&, const Params& p) {
    auto s = m.status(p.at("name"));
    if (!s) return fail(s.error());
    json j = toJson(*s);
    auto def = m.definition(p.at("name"), false);
    if (def) j["definition"] = config::networkToJson(**def);
    return ok(j);
  });
  r.add("PUT", "/v1/networks/{name}", [&m](const Request& req, const Params& p) {
    auto xml = definitionXml(req);
    if (!xml) return fail(xml.error());
    auto parsed = config::parseNetworkXml(*xml);
    if (!parsed) return fail(parsed.error());
    if (parsed->name != p.at("name")) {
      return fail(Error::invalid("the definition names network '" + parsed->name +
                                 "', but the request is for '" + p.at("name") + "'"));
    }
    auto s = m.define(*xml);
    if (!s) return fail(s.error());
    return ok(toJson(*s));
  });
  r.add("DELETE", "/v1/networks/{name}", [&m](const Request&, const Params& p) {
    if (Status s = m.undefine(p.at("name")); !s.ok()) return fail(s.error());
    return ok(json{{"name", p.at("name")}, {"undefined", true}});
  });
  r.add("POST", "/v1/networks/{name}/start", [&m](const Request&, const Params& p) {
    if (Status s = m.start(p.at("name")); !s.ok()) return fail(s.error());
    return ok(toJson(*m.status(p.at("name"))));
  });
  r.add("POST", "/v1/networks/{name}/stop", [&m](const Request&, const Params& p) {
    Status s = m.destroy(p.at("name"));
    if (!s.ok()) return fail(s.error());
    auto st = m.status(p.at("name"));
    return ok(st ? toJson(*st) : json{{"name", p.at("name")}, {"active", false}});
  });
  r.add("POST", "/v1/networks/{name}/autostart", [&m](const Request& req, const Params& p) {
    auto j = jsonBody(req);
    if (!j) return fail(j.error());
    if (!j->contains("enabled") || !(*j)["enabled"].is_boolean()) {
      return fail(Error::invalid("request body needs {\"enabled\": true|false}"));
    }
    if (Status s = m.setAutostart(p.at("name"), (*j)["enabled"].get<bool>()); !s.ok()) {
      return fail(s.error());
    }
    return ok(toJson(*m.status(p.at("name"))));
  });
  r.add("POST", "/v1/networks/{name}/autorepair", [&m](const Request& req, const Params& p) {
    auto j = jsonBody(req);
    if (!j) return fail(j.error());
    if (!j->contains("enabled") || !(*j)["enabled"].is_boolean()) {
      return fail(Error::invalid("request body needs {\"enabled\": true|false}"));
    }
    if (Status s = m.setAutorepair(p.at("name"), (*j)["enabled"].get<bool>()); !s.ok()) {
      return fail(s.error());
    }
    return ok(toJson(*m.status(p.at("name"))));
  });
  r.add("GET", "/v1/networks/{name}/xml", [&m](const Request& req, const Params& p) {
    auto def = m.definition(p.at("name"), flag(req, "inactive"));
    if (!def) return fail(def.error());
    return Response{200, config::formatNetworkXml(**def), "application/xml"};
  });
  r.add("GET", "/v1/networks/{name}/ports", [&m](const Request&, const Params& p) {
    auto ports = m.ports(p.at("name"));
    if (!ports) return fail(ports.error());
    json arr = json::array();
    for (const auto& port : *ports) arr.push_back(toJson(port));
    return ok(arr);
  });
  r.add("POST", "/v1/networks/{name}/ports", [&m](const Request& req, const Params& p) {
    auto pr = portRequest(req, p.at("name"));
    if (!pr) return fail(pr.error());
    auto port = m.addPort(*pr);
    if (!port) return fail(port.error());
    return ok(toJson(*port), 201);
  });
  r.add("DELETE", "/v1/networks/{name}/ports/{port}", [&m](const Request&, const Params& p) {
    if (Status s = m.removePort(p.at("name"), p.at("port")); !s.ok()) return fail(s.error());
    return ok(json{{"name", p.at("port")}, {"removed", true}});
  });
  r.add("GET", "/v1/networks/{name}/leases", [&m](const Request& req, const Params& p) {
    auto leases = m.leases(p.at("name"));
    if (!leases) return fail(leases.error());
    std::optional<Mac> only;
    if (auto it = req.query.find("mac"); it != req.query.end()) {
      only = Mac::parse(it->second);
      if (!only) return fail(Error::invalid("mac: '" + it->second + "' is not a MAC address"));
    }
    return leaseList(std::move(*leases), only);
  });
  r.add("GET", "/v1/networks/{name}/stats", [&m](const Request& req, const Params& p) {
    auto s = collectStats(m, p.at("name"));
    if (!s) return fail(s.error());
    if (auto it = req.query.find("port"); it != req.query.end() && !it->second.empty()) {
      std::erase_if(s->ports, [&](const PortStats& ps) { return ps.name != it->second; });
      if (s->ports.empty()) {
        return fail(Error::notFound("network '" + p.at("name") + "' has no port " + it->second));
      }
    }
    return ok(statsJson(*s));
  });
  r.add("GET", "/v1/networks/{name}/rules", [&m](const Request&, const Params& p) {
    auto st = m.status(p.at("name"));
    if (!st) return fail(st.error());
    if (!st->active) {
      return fail(Error::conflict("network '" + p.at("name") + "' is not active: it has no rules"));
    }
    auto net = m.definition(p.at("name"), false);
    if (!net) return fail(net.error());
    auto listing = m.firewallListing();
    if (!listing) return fail(listing.error());
    json rules = json::array();
    for (const auto& v : kernel::nft::rulesUsedBy(*listing, **net)) {
      rules.push_back({{"chain", v.chain}, {"hook", v.hook}, {"rule", v.rule}, {"comment", v.comment}});
    }
    json elements = json::array();
    for (const auto& e : kernel::nft::objectsOf(**net).elements) {
      elements.push_back({{"set", e.map}, {"key", e.key}, {"chain", e.chain}});
    }
    return ok(json{{"name", p.at("name")}, {"table", "inet vnet"}, {"rules", rules}, {"elements", elements}});
  });
  r.add("POST", "/v1/networks/{name}/update", [&m](const Request& req, const Params& p) {
    auto j = jsonBody(req);
    if (!j) return fail(j.error());
    UpdateRequest u;
    try {
      u.command = j->at("command").get<std::string>();
      u.section = j->at("section").get<std::string>();
      u.xml = j->at("xml").get<std::string>();
      u.parentIndex = j->value("parentIndex", -1);
    } catch (const json::exception&) {
      return fail(Error::invalid(
          "request body needs {\"command\", \"section\", \"xml\"} strings (and optionally "
          "\"parentIndex\")"));
    }
    if (Status s = m.update(p.at("name"), u); !s.ok()) return fail(s.error());
    return ok(json{{"name", p.at("name")}, {"updated", true}});
  });
  return r;
}

}  // namespace vnet::daemon

#include "daemon/api_service.h"

#include <malloc.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/json_text.h"
#include "config/json.h"
#include "config/xml.h"
#include "daemon/stats.h"
#include "kernel/nft/render.h"

namespace vnet::daemon {

using api::Params;
using api::Request;
using api::Response;
using nlohmann::json;

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
  return json{{"ip", l.ip.toString()},
              {"prefix", l.prefix},
              {"mac", l.mac.toString()},
              {"hostname", l.hostname},
              {"clientId", l.clientId},
              {"expiry", l.expiry},
              {"protocol", l.ip.isV4() ? "ipv4" : "ipv6"}};
}

Response ok(const json& j, int status = 200) {
  return api::jsonResponse(status, api::jsonText(j, 2) + "\n");
}
Response fail(const Error& e) {
  return api::errorResponse(e);
}

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

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A handler that first refuses query parameters it does not take, naming them.
api::Handler takingQuery(std::vector<std::string> allowed, api::Handler h) {
  return [allowed = std::move(allowed), h = std::move(h)](const Request& req, const Params& p) {
    for (const auto& [key, value] : req.query) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      return fail(Error::invalid("unknown query parameter '" + key + "' (" + req.method + " " +
                                 req.path + " takes " +
                                 (allowed.empty() ? "none" : joined(allowed)) + ")"));
    }
    return h(req, p);
  };
}

// A yes/no query parameter: absent is false; "", 1, true, yes are true; 0, false, no false.
Result<bool> flag(const Request& r, const char* key) {
  auto it = r.query.find(key);
  if (it == r.query.end()) return false;
  const std::string& v = it->second;
  if (v.empty() || v == "1" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "no") return false;
  return Error::invalid(std::string("query parameter ") + key + ": '" + v +
                        "' is not 1, 0, true, false, yes or no");
}

// Parses a JSON body (objects only); an empty body gives an empty object. Any JSON error
// (syntax, or a number too large for a double: nlohmann's out_of_range.406) is a 400 that
// quotes at most 200 bytes of nlohmann's explanation.
Result<json> jsonBody(const Request& r) {
  if (r.body.empty()) return json::object();
  json j;
  try {
    j = json::parse(r.body);
  } catch (const json::exception& e) {
    // nlohmann: "[json.exception.parse_error.101] parse error at line 1, column 8: ...",
    // "[json.exception.out_of_range.406] number overflow parsing '1e999'".
    std::string what = e.what();
    size_t at = what.find("] ");
    std::string detail = at == std::string::npos ? what : what.substr(at + 2);
    const std::string marker = "parse error at ";
    if (detail.rfind(marker, 0) == 0) detail.erase(0, marker.size());
    constexpr size_t kMaxDetail = 200;
    if (detail.size() > kMaxDetail) detail = detail.substr(0, kMaxDetail) + "...";
    return Error::invalid("request body is not valid JSON: " + detail);
  }
  if (!j.is_object()) {
    return Error::invalid(std::string("request body must be a JSON object, not ") +
                          (j.is_array() ? "an array" : std::string("a ") + j.type_name()));
  }
  return j;
}

// Refuses fields of `j` outside `allowed` (a typo must not be ignored silently).
Status onlyFields(const json& j, const std::vector<std::string>& allowed) {
  for (const auto& [key, value] : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error::invalid("unknown field '" + key + "' in the request body (expected " +
                            joined(allowed) + ")");
    }
  }
  return Status::success();
}

std::string aTypeName(const json& v) {
  std::string t = v.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

// POST /v1/networks/{name}/<switch> with {"enabled": true|false}: calls (m.*set)(name, on)
// and answers the network's status.
api::Handler onOff(Manager& m, Status (Manager::*set)(const std::string&, bool)) {
  return [&m, set](const Request& req, const Params& p) {
    auto j = jsonBody(req);
    if (!j) return fail(j.error());
    if (Status s = onlyFields(*j, {"enabled"}); !s.ok()) return fail(s.error());
    auto it = j->find("enabled");
    if (it == j->end()) return fail(Error::invalid("request body needs {\"enabled\": true|false}"));
    if (!it->is_boolean()) {
      return fail(Error::invalid("enabled: must be true or false, not " + aTypeName(*it)));
    }
    if (Status s = (m.*set)(p.at("name"), it->get<bool>()); !s.ok()) return fail(s.error());
    return ok(toJson(*m.status(p.at("name"))));
  };
}

// An optional string field; absent (or null) gives nullopt.
Result<std::optional<std::string>> stringField(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return Error::invalid(std::string(key) + ": must be a string, not " + aTypeName(*it));
  }
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> requiredString(const json& j, const char* key, const std::string& hint) {
  auto v = stringField(j, key);
  if (!v) return std::move(v).error();
  if (!*v) return Error::invalid(std::string("request body needs \"") + key + "\" (" + hint + ")");
  return std::move(**v);
}

// The body as XML when it is raw XML (first character '<', after blanks and a UTF-8 BOM).
bool isRawXml(const std::string& body) {
  size_t at = body.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  size_t first = body.find_first_not_of(" \t\r\n", at);
  return first != std::string::npos && body[first] == '<';
}

// The XML of a definition from any of the accepted body forms.
Result<std::string> definitionXml(const Request& r) {
  if (r.contentType == "application/xml" || r.contentType == "text/xml" || isRawXml(r.body)) {
    return r.body;
  }
  auto j = jsonBody(r);
  if (!j) return std::move(j).error();
  VNET_TRY(onlyFields(*j, {"xml", "network"}));
  if (j->contains("xml") && j->contains("network")) {
    return Error::invalid("request body has both \"xml\" and \"network\"; give one");
  }
  if (j->contains("network")) {
    auto net = config::networkFromJson((*j)["network"]);
    if (!net) return std::move(net).error().context("network");
    // Checked here, where the JSON is: messages then name element paths without the lines
    // of an XML text the client never wrote.
    VNET_TRY(model::validate(*net));
    return config::formatNetworkXml(*net);
  }
  return requiredString(*j, "xml", "the libvirt <network> XML as a string, or \"network\"");
}

Result<PortRequest> portRequest(const Request& r, const std::string& network) {
  auto j = jsonBody(r);
  if (!j) return std::move(j).error();
  VNET_TRY(onlyFields(*j, {"kind", "name", "mac", "owner", "netns", "ifname"}));
  PortRequest p;
  p.network = network;
  auto kind = stringField(*j, "kind");
  if (!kind) return std::move(kind).error();
  std::string k = kind->value_or("tap");
  if (k != "tap" && k != "veth") {
    return Error::invalid("kind: must be \"tap\" or \"veth\", not \"" + k + "\"");
  }
  p.tap = k == "tap";
  for (auto [key, out] :
       {std::pair{"name", &p.name}, std::pair{"netns", &p.netns}, std::pair{"ifname", &p.ifname}}) {
    auto v = stringField(*j, key);
    if (!v) return std::move(v).error();
    *out = v->value_or("");
  }
  auto mac = stringField(*j, "mac");
  if (!mac) return std::move(mac).error();
  if (*mac) {
    p.mac = Mac::parse(**mac);
    if (!p.mac) return Error::invalid("mac: '" + **mac + "' is not a MAC address");
  }
  if (auto it = j->find("owner"); it != j->end() && !it->is_null()) {
    // uid_t is 32 bits; (uid_t)-1 means "no user".
    constexpr uint64_t kMaxUid = 0xFFFFFFFEu;
    if (!it->is_number_unsigned() || it->get<uint64_t>() > kMaxUid) {
      return Error::invalid("owner: must be a user id in 0.." + std::to_string(kMaxUid) + ", not " +
                            api::jsonText(*it));
    }
    p.owner = static_cast<unsigned>(it->get<uint64_t>());
  }
  return p;
}

Result<UpdateRequest> updateRequest(const Request& r) {
  auto j = jsonBody(r);
  if (!j) return std::move(j).error();
  VNET_TRY(onlyFields(*j, {"command", "section", "xml", "parentIndex"}));
  UpdateRequest u;
  auto command = requiredString(*j, "command", "add, add-first, add-last, delete or modify");
  if (!command) return std::move(command).error();
  auto section =
      requiredString(*j, "section", "ip-dhcp-host, ip-dhcp-range, dns-host, dns-txt or dns-srv");
  if (!section) return std::move(section).error();
  auto xml = requiredString(*j, "xml", "the element to add, delete or modify");
  if (!xml) return std::move(xml).error();
  u.command = std::move(*command);
  u.section = std::move(*section);
  u.xml = std::move(*xml);
  if (auto it = j->find("parentIndex"); it != j->end() && !it->is_null()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 1000000) {
      return Error::invalid("parentIndex: must be the 0-based index of an <ip>, not " +
                            api::jsonText(*it));
    }
    u.parentIndex = static_cast<int>(it->get<uint64_t>());
  }
  return u;
}

}  // namespace

api::Router makeApiRouter(Manager& m) {
  api::Router r;
  r.add("GET", "/v1/networks", takingQuery({"all"}, [&m](const Request& req, const Params&) {
          auto all = flag(req, "all");
          if (!all) return fail(all.error());
          json arr = json::array();
          for (const auto& s : m.list(*all)) arr.push_back(toJson(s));
          return ok(arr);
        }));
  r.add("POST", "/v1/networks", takingQuery({"start"}, [&m](const Request& req, const Params&) {
          auto start = flag(req, "start");
          if (!start) return fail(start.error());
          auto xml = definitionXml(req);
          if (!xml) return fail(xml.error());
          auto s = *start ? m.create(*xml) : m.define(*xml);
          if (!s) return fail(s.error());
          return ok(toJson(*s), 201);
        }));
  r.add("GET", "/v1/networks/{name}", takingQuery({}, [&m](const Request&, const Params& p) {
          auto s = m.status(p.at("name"));
          if (!s) return fail(s.error());
          json j = toJson(*s);
          auto def = m.definition(p.at("name"), false);
          if (def) j["definition"] = config::networkToJson(**def);
          return ok(j);
        }));
  r.add("PUT", "/v1/networks/{name}", takingQuery({}, [&m](const Request& req, const Params& p) {
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
        }));
  r.add("DELETE", "/v1/networks/{name}", takingQuery({}, [&m](const Request&, const Params& p) {
          if (Status s = m.undefine(p.at("name")); !s.ok()) return fail(s.error());
          return ok(json{{"name", p.at("name")}, {"undefined", true}});
        }));
  r.add("POST", "/v1/networks/{name}/start", takingQuery({}, [&m](const Request&, const Params& p) {
          if (Status s = m.start(p.at("name")); !s.ok()) return fail(s.error());
          return ok(toJson(*m.status(p.at("name"))));
        }));
  r.add("POST", "/v1/networks/{name}/stop", takingQuery({}, [&m](const Request&, const Params& p) {
          Status s = m.destroy(p.at("name"));
          if (!s.ok()) return fail(s.error());
          auto st = m.status(p.at("name"));
          return ok(st ? toJson(*st) : json{{"name", p.at("name")}, {"active", false}});
        }));
  r.add("POST", "/v1/networks/{name}/autostart", takingQuery({}, onOff(m, &Manager::setAutostart)));
  r.add("POST", "/v1/networks/{name}/autorepair",
        takingQuery({}, onOff(m, &Manager::setAutorepair)));
  r.add("GET", "/v1/networks/{name}/xml",
        takingQuery({"inactive"}, [&m](const Request& req, const Params& p) {
          auto inactive = flag(req, "inactive");
          if (!inactive) return fail(inactive.error());
          auto def = m.definition(p.at("name"), *inactive);
          if (!def) return fail(def.error());
          return Response{200, config::formatNetworkXml(**def), "application/xml"};
        }));
  r.add("GET", "/v1/networks/{name}/ports", takingQuery({}, [&m](const Request&, const Params& p) {
          auto ports = m.ports(p.at("name"));
          if (!ports) return fail(ports.error());
          json arr = json::array();
          for (const auto& port : *ports) arr.push_back(toJson(port));
          return ok(arr);
        }));
  r.add("POST", "/v1/networks/{name}/ports",
        takingQuery({}, [&m](const Request& req, const Params& p) {
          auto pr = portRequest(req, p.at("name"));
          if (!pr) return fail(pr.error());
          auto port = m.addPort(*pr);
          if (!port) return fail(port.error());
          return ok(toJson(*port), 201);
        }));
  r.add("DELETE", "/v1/networks/{name}/ports/{port}",
        takingQuery({}, [&m](const Request&, const Params& p) {
          if (Status s = m.removePort(p.at("name"), p.at("port")); !s.ok()) return fail(s.error());
          return ok(json{{"name", p.at("port")}, {"removed", true}});
        }));
  r.add("GET", "/v1/networks/{name}/leases",
        takingQuery({"mac"}, [&m](const Request& req, const Params& p) {
          std::optional<Mac> only;
          if (auto it = req.query.find("mac"); it != req.query.end()) {
            only = Mac::parse(it->second);
            if (!only) {
              return fail(
                  Error::invalid("query parameter mac: '" + it->second + "' is not a MAC address"));
            }
          }
          auto leases = m.leases(p.at("name"));
          if (!leases) return fail(leases.error());
          return leaseList(std::move(*leases), only);
        }));
  r.add("GET", "/v1/networks/{name}/stats",
        takingQuery({"port"}, [&m](const Request& req, const Params& p) {
          auto s = collectStats(m, p.at("name"));
          if (!s) return fail(s.error());
          if (auto it = req.query.find("port"); it != req.query.end() && !it->second.empty()) {
            std::erase_if(s->ports, [&](const PortStats& ps) { return ps.name != it->second; });
            if (s->ports.empty()) {
              return fail(
                  Error::notFound("network '" + p.at("name") + "' has no port " + it->second));
            }
          }
          return ok(statsJson(*s));
        }));
  r.add("GET", "/v1/networks/{name}/rules", takingQuery({}, [&m](const Request&, const Params& p) {
          auto st = m.status(p.at("name"));
          if (!st) return fail(st.error());
          if (!st->active) {
            return fail(
                Error::conflict("network '" + p.at("name") + "' is not active: it has no rules"));
          }
          auto net = m.definition(p.at("name"), false);
          if (!net) return fail(net.error());
          auto listing = m.firewallListing();
          if (!listing) return fail(listing.error());
          json rules = json::array();
          for (const auto& v : kernel::nft::rulesUsedBy(*listing, **net)) {
            rules.push_back(
                {{"chain", v.chain}, {"hook", v.hook}, {"rule", v.rule}, {"comment", v.comment}});
          }
          json elements = json::array();
          for (const auto& e : kernel::nft::objectsOf(**net).elements) {
            elements.push_back({{"set", e.map}, {"key", e.key}, {"chain", e.chain}});
          }
          return ok(json{{"name", p.at("name")},
                         {"table", "inet vnet"},
                         {"rules", rules},
                         {"elements", elements}});
        }));
  r.add("POST", "/v1/networks/{name}/update",
        takingQuery({}, [&m](const Request& req, const Params& p) {
          auto u = updateRequest(req);
          if (!u) return fail(u.error());
          if (Status s = m.update(p.at("name"), *u); !s.ok()) return fail(s.error());
          return ok(json{{"name", p.at("name")}, {"updated", true}});
        }));
  return r;
}

}  // namespace vnet::daemon

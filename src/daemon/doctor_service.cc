#include "daemon/doctor_service.h"

#include <nlohmann/json.hpp>

#include "api/json_text.h"
#include "doctor/checks.h"

namespace vnet::daemon {
namespace {

using nlohmann::json;

api::Response diagnose(Manager& m, const doctor::ProbeEnv& env, const std::string& only) {
  std::vector<doctor::NetworkFacts> nets;
  for (const auto& s : m.list(true)) {
    auto def = m.definition(s.name, false);
    if (!def) continue;
    nets.push_back({**def, s.active, {}});
  }
  const doctor::Facts facts = doctor::gatherFacts(env, std::move(nets));
  const auto findings = doctor::runChecks(facts, only);
  json arr = json::array();
  int errors = 0, warnings = 0;
  for (const auto& f : findings) {
    arr.push_back(doctor::toJson(f));
    (f.severity == doctor::Severity::Error ? errors : warnings)++;
  }
  json j{{"network", only.empty() ? json(nullptr) : json(only)},
         {"errors", errors},
         {"warnings", warnings},
         {"findings", arr}};
  return api::jsonResponse(200, api::jsonText(j, 2) + "\n");
}

}  // namespace

void addDoctorRoutes(api::Router& r, Manager& m, const doctor::ProbeEnv& env) {
  r.add("GET", "/v1/doctor",
        [&m, &env](const api::Request&, const api::Params&) { return diagnose(m, env, ""); });
  r.add("GET", "/v1/networks/{name}/doctor", [&m, &env](const api::Request&, const api::Params& p) {
    if (auto s = m.status(p.at("name")); !s) return api::errorResponse(s.error());
    return diagnose(m, env, p.at("name"));
  });
}

}  // namespace vnet::daemon

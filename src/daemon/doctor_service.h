// The doctor's REST routes (vnetctl doctor):
//   GET /v1/doctor                   findings for every network and the host
//   GET /v1/networks/NAME/doctor     findings for NAME plus the host-wide ones
// Answer: {"network": NAME|null, "errors": N, "warnings": N, "findings": [doctor::toJson]}.
// Facts are gathered on each request, in vnetd's network namespace, on the event loop.
#pragma once

#include "api/router.h"
#include "daemon/manager.h"
#include "doctor/probe.h"

namespace vnet::daemon {

// `env` must outlive the router.
void addDoctorRoutes(api::Router& router, Manager& manager, const doctor::ProbeEnv& env);

}  // namespace vnet::daemon

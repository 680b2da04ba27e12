// `virsh net-update`: a pure edit of one section of a definition.
#pragma once

#include <string>

#include "base/error.h"
#include "model/network.h"

namespace vnet::daemon {

struct UpdateRequest {
  std::string command;   // add | add-first | add-last | delete | modify
  std::string section;   // ip-dhcp-host | ip-dhcp-range | dns-host | dns-txt | dns-srv
  std::string xml;       // the element, e.g. <host mac='..' name='..' ip='..'/>
  int parentIndex = -1;  // which <ip> (0-based among all <ip>); -1: the first IPv4 with <dhcp>
};

// Applies the edit to `net`. Errors (unknown command/section, bad XML, nothing to delete
// or modify, a duplicate on add) leave `net` unchanged. The caller validates the result.
Status applyUpdate(model::Network& net, const UpdateRequest& req);

}  // namespace vnet::daemon

// Parses rtnetlink multicast datagrams (link and address notifications) into
// kernel::LinkEvent / kernel::AddressEvent. Pure: bytes in, events out. Malformed
// messages and attributes are skipped.
#pragma once

#include <cstdint>
#include <span>

#include "kernel/monitor.h"

namespace vnet::kernel::monitor {

// Delivers the events of one datagram to `sink`; other message types are ignored.
void parseRouteEvents(std::span<const uint8_t> datagram, ChangeSink& sink);

}  // namespace vnet::kernel::monitor

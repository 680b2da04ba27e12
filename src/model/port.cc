#include "model/port.h"

namespace vnet::model {

const char* portKindName(PortKind k) {
  switch (k) {
    case PortKind::Tap:
      return "tap";
    case PortKind::Veth:
      return "veth";
    case PortKind::Adopted:
      return "adopted";
  }
  return "?";
}

}  // namespace vnet::model

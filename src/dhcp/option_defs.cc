#include "dhcp/option_defs.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "base/ip.h"

namespace vnet::dhcp {
namespace {

using T = OptionType;

// Sorted by code (checked by a unit test).
constexpr std::array kDefs = {
    OptionDef{1, "subnet-mask", T::kIpv4},
    OptionDef{2, "time-offset", T::kUint32},
    OptionDef{3, "routers", T::kIpv4List},
    OptionDef{4, "time-servers", T::kIpv4List},
    OptionDef{6, "domain-name-servers", T::kIpv4List},
    OptionDef{7, "log-servers", T::kIpv4List},
    OptionDef{12, "host-name", T::kString},
    OptionDef{13, "boot-size", T::kUint16},
    OptionDef{15, "domain-name", T::kString},
    OptionDef{17, "root-path", T::kString},
    OptionDef{19, "ip-forwarding", T::kUint8},
    OptionDef{23, "default-ip-ttl", T::kUint8},
    OptionDef{26, "interface-mtu", T::kUint16},
    OptionDef{28, "broadcast-address", T::kIpv4},
    OptionDef{33, "static-routes", T::kIpv4List},
    OptionDef{42, "ntp-servers", T::kIpv4List},
    OptionDef{43, "vendor-encapsulated-options", T::kBinary},
    OptionDef{44, "netbios-name-servers", T::kIpv4List},
    OptionDef{46, "netbios-node-type", T::kUint8},
    OptionDef{47, "netbios-scope", T::kString},
    OptionDef{50, "dhcp-requested-address", T::kIpv4},
    OptionDef{51, "dhcp-lease-time", T::kUint32},
    OptionDef{52, "dhcp-option-overload", T::kUint8},
    OptionDef{53, "dhcp-message-type", T::kUint8},
    OptionDef{54, "dhcp-server-identifier", T::kIpv4},
    OptionDef{55, "dhcp-parameter-request-list", T::kUint8List},
    OptionDef{56, "dhcp-message", T::kString},
    OptionDef{57, "dhcp-max-message-size", T::kUint16},
    OptionDef{58, "dhcp-renewal-time", T::kUint32},
    OptionDef{59, "dhcp-rebinding-time", T::kUint32},
    OptionDef{60, "vendor-class-identifier", T::kBinary},
    OptionDef{61, "dhcp-client-identifier", T::kBinary},
    OptionDef{66, "tftp-server-name", T::kString},
    OptionDef{67, "boot-file-name", T::kString},
    OptionDef{77, "user-class", T::kBinary},
    OptionDef{80, "rapid-commit", T::kEmpty},
    OptionDef{81, "fqdn", T::kBinary},
    OptionDef{82, "dhcp-agent-options", T::kBinary},
    OptionDef{93, "client-system", T::kBinary},
    OptionDef{94, "client-ndi", T::kBinary},
    OptionDef{97, "uuid-guid", T::kBinary},
    OptionDef{119, "domain-search", T::kBinary},
    OptionDef{121, "classless-static-route", T::kRoutes},
    OptionDef{249, "ms-classless-static-route", T::kRoutes},
    OptionDef{252, "wpad-url", T::kString},
};

}  // namespace

std::span<const OptionDef> standardOptionDefs() {
  return kDefs;
}

const OptionDef* findOptionDef(uint8_t code) {
  auto it = std::lower_bound(kDefs.begin(), kDefs.end(), code,
                             [](const OptionDef& d, uint8_t c) { return d.code < c; });
  return it != kDefs.end() && it->code == code ? &*it : nullptr;
}

bool optionLengthValid(OptionType type, size_t length) {
  switch (type) {
    case T::kEmpty:
      return length == 0;
    case T::kUint8:
      return length == 1;
    case T::kUint16:
      return length == 2;
    case T::kUint32:
    case T::kIpv4:
      return length == 4;
    case T::kIpv4List:
      return length > 0 && length % 4 == 0;
    case T::kString:
    case T::kUint8List:
    case T::kRoutes:
      return length > 0;
    case T::kBinary:
      return true;
  }
  return false;
}

std::string formatOption(uint8_t code, std::span<const uint8_t> data) {
  const OptionDef* def = findOptionDef(code);
  std::string out = def ? std::string(def->name) : "option-" + std::to_string(code);
  out += '=';
  const OptionType type = def ? def->type : T::kBinary;
  if (!optionLengthValid(type, data.size())) {
    out += "<bad length " + std::to_string(data.size()) + ">";
    return out;
  }
  switch (type) {
    case T::kUint8:
      out += std::to_string(data[0]);
      break;
    case T::kUint16:
      out += std::to_string((data[0] << 8) | data[1]);
      break;
    case T::kUint32:
      out += std::to_string(Ipv4::fromBytes(data.data()).toUint());
      break;
    case T::kIpv4:
    case T::kIpv4List:
      for (size_t i = 0; i < data.size(); i += 4) {
        if (i) out += ',';
        out += Ipv4::fromBytes(data.data() + i).toString();
      }
      break;
    case T::kString:
      out += '"';
      for (uint8_t c : data) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
          out += char(c);
        } else {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\x%02x", c);
          out += esc;
        }
      }
      out += '"';
      break;
    default:
      for (uint8_t c : data) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", c);
        out += hex;
      }
      break;
  }
  return out;
}

}  // namespace vnet::dhcp

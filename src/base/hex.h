// Hex digits in text (MACs, client IDs, percent escapes, /proc/net, DNS names, XML).
#pragma once

namespace vnet {

// The value of an ASCII hex digit in either case, -1 for any other character.
constexpr int hexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace vnet

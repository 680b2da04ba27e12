// Any input: parsing never crashes; whatever parses formats to XML that parses back to the
// same formatted text (format is stable), and survives a JSON round trip.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/json.h"
#include "config/xml.h"
#include "model/network.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto net = config::parseNetworkXml(text);
  if (!net) return 0;
  (void)model::validate(*net);
  (void)model::checkStartable(*net);
  std::string once = config::formatNetworkXml(*net);
  auto again = config::parseNetworkXml(once);
  if (!again) fail("formatted output does not parse:", again.error().message() + "\n" + once);
  std::string twice = config::formatNetworkXml(*again);
  if (twice != once) fail("format is not stable:", once + "\n---\n" + twice);
  auto fromJson = config::networkFromJson(config::networkToJson(*again));
  if (!fromJson) fail("JSON round trip failed:", fromJson.error().message());
  return 0;
}

// Golden files for the network XML: cases/NAME.xml formats to cases/NAME.out.xml. Bad
// definitions are in tests/golden/bad (run through the API as vnetd does).
// VNET_UPDATE_GOLDEN=1 rewrites the expected files instead of comparing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/xml.h"
#include "model/network.h"

namespace vnet::config {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(VNET_SOURCE_DIR) / "tests/golden/config";

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

bool updating() {
  const char* v = std::getenv("VNET_UPDATE_GOLDEN");
  return v && std::string(v) == "1";
}

// Inputs in `dir`: *.xml that are not expected outputs (*.out.xml), sorted.
std::vector<fs::path> inputs(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".xml") && !name.ends_with(".out.xml")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(configGolden, FormatsCases) {
  auto cases = inputs(kDir / "cases");
  ASSERT_GE(cases.size(), 10u);
  for (const auto& in : cases) {
    SCOPED_TRACE(in.filename().string());
    auto net = parseNetworkXml(readFile(in));
    ASSERT_TRUE(net.ok()) << net.error().message();
    EXPECT_TRUE(model::validate(*net).ok()) << model::validate(*net).error().message();
    std::string got = formatNetworkXml(*net);
    fs::path expected = fs::path(in).replace_extension(".out.xml");
    if (updating()) {
      writeFile(expected, got);
      continue;
    }
    ASSERT_TRUE(fs::exists(expected)) << "missing " << expected << " (VNET_UPDATE_GOLDEN=1)";
    EXPECT_EQ(got, readFile(expected));
    auto again = parseNetworkXml(got);
    ASSERT_TRUE(again.ok()) << again.error().message();
    EXPECT_EQ(formatNetworkXml(*again), got) << "formatting is not stable";
  }
}

}  // namespace
}  // namespace vnet::config

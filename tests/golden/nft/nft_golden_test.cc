// model -> nft text against tests/golden/nft/expected/*.nft.
// VNET_UPDATE_GOLDEN=1 rewrites the expected files instead of comparing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "kernel/nft/render.h"
#include "tests/golden/nft/cases.h"

namespace vnet::kernel::nft {
namespace {

std::string expectedPath(const std::string& file) {
  return std::string(VNET_SOURCE_DIR) + "/tests/golden/nft/expected/" + file;
}

void checkGolden(const std::string& file, const std::string& actual) {
  const std::string path = expectedPath(file);
  const char* update = std::getenv("VNET_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing " << path << " (run with VNET_UPDATE_GOLDEN=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual) << "golden file " << path;
}

// Every add batch of the case, one after another, as the applier sends them to an empty
// table.
std::string batches(const nfttest::Case& c) {
  std::string out;
  for (const auto& n : c.networks) {
    out += "# addNetwork " + n.name + "\n" + renderAddNetwork(n);
  }
  for (const auto& n : c.networks) {
    out += "# removeNetwork " + n.name + "\n" + renderRemoveNetwork(n);
  }
  return out;
}

class NftGolden : public ::testing::TestWithParam<nfttest::Case> {};

TEST_P(NftGolden, Ruleset) {
  checkGolden(GetParam().name + ".nft", renderRuleset(GetParam().networks));
}

TEST_P(NftGolden, Batches) {
  checkGolden(GetParam().name + ".batch.nft", batches(GetParam()));
}

TEST_P(NftGolden, RenderingIsDeterministic) {
  EXPECT_EQ(renderRuleset(GetParam().networks), renderRuleset(GetParam().networks));
  EXPECT_EQ(batches(GetParam()), batches(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Cases, NftGolden, ::testing::ValuesIn(nfttest::allCases()),
                         [](const auto& p) { return p.param.name; });

TEST(NftGoldenBase, Base) {
  checkGolden("base.nft", renderBase());
}

}  // namespace
}  // namespace vnet::kernel::nft

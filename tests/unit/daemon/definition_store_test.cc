// DefinitionStore limits: a definition file over the XML limit, or not a regular file, is
// reported with its size and the limit (or what it is) and skipped; the others load.
#include "daemon/definition_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/xml.h"

namespace vnet::daemon {
namespace {

namespace fs = std::filesystem;

class DefinitionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-defstore-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DefinitionStoreTest, OversizedAndOddFilesAreReportedAndSkipped) {
  DefinitionStore store(dir_);
  ASSERT_TRUE(store.init().ok());
  ASSERT_TRUE(store.save("small", "<network><name>small</name></network>\n").ok());
  std::string big = dir_ + "/networks/big.xml";
  std::ofstream(big) << std::string(config::kMaxXmlBytes + 1000, 'x');
  std::string fifo = dir_ + "/networks/fifo.xml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  std::vector<Error> errors;
  auto defs = store.loadAll(errors);
  ASSERT_EQ(defs.size(), 1u);
  EXPECT_EQ(defs[0].name, "small");
  ASSERT_EQ(errors.size(), 1u);  // the FIFO is not a regular file and is not even opened
  EXPECT_EQ(errors[0].message(),
            "reading " + big + ": file of 1049576 bytes exceeds the limit of 1048576 bytes");
  EXPECT_EQ(errors[0].code(), ErrorCode::TooLarge);
}

TEST_F(DefinitionStoreTest, ReadFileRefusesWhatIsNotARegularFile) {
  auto r = readFile(dir_, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "reading " + dir_ + ": not a regular file");
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = readFile(fifo, 100);  // O_NONBLOCK: no writer, no hang
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "reading " + fifo + ": not a regular file");
}

}  // namespace
}  // namespace vnet::daemon

#include "dhcp/lease_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "dhcp/server.h"
#include "dhcp_test_util.h"

namespace vnet::dhcp {
namespace {

using testing::basicConfig;
using testing::Client;
using testing::ip;
using testing::mac;

Lease sampleLease(const char* addr, const char* hw, int64_t expiry) {
  Lease l;
  l.ip = ip(addr);
  l.mac = mac(hw);
  l.hostname = "h";
  l.expiry = expiry;
  return l;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vnet-dhcp-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(MemoryLeaseStore, StagedWritesAreInvisibleUntilCommit) {
  MemoryLeaseStore s;
  s.stage(sampleLease("192.0.2.10", "52:54:00:00:00:01", 100));
  EXPECT_TRUE(s.hasStaged());
  EXPECT_TRUE(s.load()->empty());
  ASSERT_TRUE(s.commit().ok());
  EXPECT_EQ(s.load()->size(), 1u);
  s.stageErase(ip("192.0.2.10"));
  s.TEST_failNextCommit();
  EXPECT_FALSE(s.commit().ok());
  EXPECT_FALSE(s.hasStaged());
  EXPECT_EQ(s.load()->size(), 1u);  // the failed batch changed nothing
}

TEST(SqliteLeaseStore, ReopenKeepsLeases) {
  TempDir dir;
  const std::string db = dir.file("leases.db");
  Lease a = sampleLease("192.0.2.10", "52:54:00:00:00:01", 1700000000);
  a.client_id = {1, 0x52, 0x54, 0, 0, 0, 1};
  Lease b = sampleLease("192.0.2.11", "52:54:00:00:00:02", 0);
  b.state = LeaseState::kDeclined;
  b.hostname.clear();
  {
    auto s = SqliteLeaseStore::open(db, "default");
    ASSERT_TRUE(s.ok()) << s.error().message();
    (*s)->stage(a);
    (*s)->stage(b);
    (*s)->stage(sampleLease("192.0.2.12", "52:54:00:00:00:03", 5));
    (*s)->stageErase(ip("192.0.2.12"));
    ASSERT_TRUE((*s)->commit().ok());
  }
  auto s = SqliteLeaseStore::open(db, "default");
  ASSERT_TRUE(s.ok());
  auto leases = (*s)->load();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 2u);
  EXPECT_EQ((*leases)[0], a);
  EXPECT_EQ((*leases)[1], b);
}

// --lease-sync normal: a commit is in the WAL (the page cache) when commit() returns, so a
// process that dies right after (kill -9: no close, no checkpoint) loses nothing.
TEST(SqliteLeaseStore, NormalSyncSurvivesTheProcessDyingAfterCommit) {
  TempDir dir;
  const std::string db = dir.file("leases.db");
  const Lease a = sampleLease("192.0.2.20", "52:54:00:00:00:20", 1700000000);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto s = SqliteLeaseStore::open(db, "default", LeaseSync::kNormal);
    if (!s.ok()) ::_exit(2);
    (*s)->stage(a);
    ::_exit((*s)->commit().ok() ? 0 : 3);  // no destructor: the store is never closed
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto s = SqliteLeaseStore::open(db, "default", LeaseSync::kNormal);
  ASSERT_TRUE(s.ok()) << s.error().message();
  auto leases = (*s)->load();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0], a);
}

TEST(SqliteLeaseStore, ScopesShareAFileWithoutMixing) {
  TempDir dir;
  const std::string db = dir.file("leases.db");
  auto one = SqliteLeaseStore::open(db, "net1");
  auto two = SqliteLeaseStore::open(db, "net2");
  ASSERT_TRUE(one.ok() && two.ok());
  (*one)->stage(sampleLease("192.0.2.10", "52:54:00:00:00:01", 1));
  (*two)->stage(sampleLease("192.0.2.10", "52:54:00:00:00:02", 2));
  ASSERT_TRUE((*one)->commit().ok());
  ASSERT_TRUE((*two)->commit().ok());
  EXPECT_EQ((*one)->load()->at(0).mac, mac("52:54:00:00:00:01"));
  EXPECT_EQ((*two)->load()->at(0).mac, mac("52:54:00:00:00:02"));
  (*one)->stageErase(ip("192.0.2.10"));
  ASSERT_TRUE((*one)->commit().ok());
  EXPECT_TRUE((*one)->load()->empty());
  EXPECT_EQ((*two)->load()->size(), 1u);
}

TEST(SqliteLeaseStore, UsesWal) {
  TempDir dir;
  const std::string db = dir.file("leases.db");
  auto s = SqliteLeaseStore::open(db, "x");
  ASSERT_TRUE(s.ok());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

TEST(SqliteLeaseStore, OpenFailsCleanly) {
  auto s = SqliteLeaseStore::open("/nonexistent-dir/x/leases.db", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("/nonexistent-dir"), std::string::npos);
}

TEST(SqliteLeaseStore, ServerLeasesSurviveRestart) {
  TempDir dir;
  const std::string db = dir.file("leases.db");
  int64_t now = 1'700'000'000;
  Ipv4 addr;
  Client c;
  c.hostname = "persist";
  {
    auto store = SqliteLeaseStore::open(db, "default");
    ASSERT_TRUE(store.ok());
    auto server = Server::create(basicConfig(), **store, [&] { return now; });
    ASSERT_TRUE(server.ok());
    auto offer = parse((*server)->handle(serialize(c.discover()))->bytes);
    auto ack = (*server)->handle(serialize(c.select(ip("192.0.2.1"), offer->yiaddr)));
    ASSERT_TRUE(ack && ack->requires_commit);
    ASSERT_TRUE((*server)->commit().ok());
    addr = offer->yiaddr;
  }
  auto store = SqliteLeaseStore::open(db, "default");
  ASSERT_TRUE(store.ok());
  auto server = Server::create(basicConfig(), **store, [&] { return now; });
  ASSERT_TRUE(server.ok());
  auto leases = (*server)->leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].ip, addr);
  EXPECT_EQ(leases[0].hostname, "persist");
  EXPECT_EQ(leases[0].expiry, now + 3600);
}

}  // namespace
}  // namespace vnet::dhcp

// Database::prepare keeps one compiled statement per SQL text: a released statement comes back
// reset with its bindings cleared; a statement still in use is never handed out twice.
#include "daemon/sqlite.h"

#include <gtest/gtest.h>

namespace vnet::daemon {
namespace {

Database memoryDb() {
  auto db = Database::open(":memory:");
  EXPECT_TRUE(db.ok());
  EXPECT_TRUE(db->exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT);"
                       "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');")
                  .ok());
  return std::move(*db);
}

constexpr const char* kByKey = "SELECT v FROM t WHERE k = ?1";
constexpr const char* kAll = "SELECT v FROM t ORDER BY k";

TEST(SqliteTest, AReleasedStatementComesBackResetWithoutBindings) {
  Database db = memoryDb();
  {
    auto st = db.prepare(kByKey);
    ASSERT_TRUE(st.ok());
    st->bind(1, int64_t{2});
    ASSERT_TRUE(st->step());
    EXPECT_EQ(st->text(0), "two");
  }
  auto again = db.prepare(kByKey);
  ASSERT_TRUE(again.ok());
  // Unbound ?1 is NULL: no row. A kept binding would find 'two'.
  EXPECT_FALSE(again->step());
  EXPECT_TRUE(again->status().ok());
}

TEST(SqliteTest, AStatementInUseIsNotHandedOutTwice) {
  Database db = memoryDb();
  auto outer = db.prepare(kAll);
  ASSERT_TRUE(outer.ok());
  ASSERT_TRUE(outer->step());
  EXPECT_EQ(outer->text(0), "one");
  {
    auto inner = db.prepare(kAll);  // same text while outer is mid-iteration
    ASSERT_TRUE(inner.ok());
    int rows = 0;
    while (inner->step()) ++rows;
    EXPECT_EQ(rows, 3);
  }
  ASSERT_TRUE(outer->step());
  EXPECT_EQ(outer->text(0), "two");  // outer's cursor was not disturbed
}

TEST(SqliteTest, AStatementLeftMidwayDoesNotHoldItsReadOpen) {
  Database db = memoryDb();
  {
    auto st = db.prepare(kAll);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->step());  // abandoned after one row
  }
  EXPECT_TRUE(db.exec("DROP TABLE t;").ok());  // fails while a statement reads t
}

TEST(SqliteTest, ABadStatementIsAnErrorEveryTime) {
  Database db = memoryDb();
  for (int i = 0; i < 2; ++i) {
    auto st = db.prepare("SELECT nope FROM t");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("no such column: nope"), std::string::npos)
        << st.error().message();
  }
}

}  // namespace
}  // namespace vnet::daemon

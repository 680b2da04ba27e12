#include "daemon/events.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vnet::daemon {
namespace {

EventBus bus(size_t recent = 10) {
  return EventBus(recent, [] { return int64_t{1714557600123}; });  // 2024-05-01T10:00:00.123Z
}

TEST(EventBus, StampsAndDeliversToMatchingSubscribers) {
  EventBus b(10, [] { return int64_t{1714557600123}; });
  int wakes = 0;
  auto all = b.subscribe("", 10, [&] { ++wakes; });
  auto onlyLab = b.subscribe("lab", 10, {});
  b.publish(event_type::kNetworkStarted, "default", {{"bridge", "vnbr0"}});
  b.publish(event_type::kPortAdded, "lab", {{"port", "vnet0"}});
  auto got = all->take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[0].type, "network.started");
  EXPECT_EQ(got[0].timeMs, 1714557600123);
  EXPECT_EQ(got[1].seq, 2u);
  EXPECT_EQ(wakes, 1);  // woken when the queue became non-empty, not per event
  auto lab = onlyLab->take();
  ASSERT_EQ(lab.size(), 1u);
  EXPECT_EQ(lab[0].network, "lab");
  EXPECT_TRUE(all->take().empty());
}

TEST(EventBus, FullQueueDropsAndCountsWithAMarker) {
  EventBus b(100, [] { return int64_t{1000}; });
  auto slow = b.subscribe("", 3, {});
  auto fast = b.subscribe("", 100, {});
  for (int i = 0; i < 10; ++i) b.publish("lease.granted", "default");
  auto got = slow->take();
  ASSERT_EQ(got.size(), 4u);  // 3 queued + the marker
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[2].seq, 3u);
  EXPECT_EQ(got[3].type, "events.dropped");
  ASSERT_EQ(got[3].details.size(), 1u);
  EXPECT_EQ(got[3].details[0], (std::pair<std::string, std::string>{"count", "7"}));
  EXPECT_EQ(fast->take().size(), 10u);  // one slow subscriber does not hurt the others
  EXPECT_EQ(b.counters().published, 10u);
  EXPECT_EQ(b.counters().dropped, 7u);
  // After a take the queue accepts events again, without a new marker.
  b.publish("lease.renewed", "default");
  got = slow->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "lease.renewed");
}

TEST(EventBus, RecentIsABoundedRing) {
  EventBus b = bus(3);
  for (int i = 0; i < 5; ++i) b.publish("network.defined", i % 2 ? "a" : "b");
  auto r = b.recent("", 10);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.front().seq, 3u);
  EXPECT_EQ(r.back().seq, 5u);
  auto onlyA = b.recent("a", 10);
  ASSERT_EQ(onlyA.size(), 1u);
  EXPECT_EQ(onlyA[0].seq, 4u);
  EXPECT_EQ(b.recent("", 1).size(), 1u);
}

TEST(EventBus, SubscriptionsDetachBothWays) {
  auto b = std::make_unique<EventBus>();
  auto s1 = b->subscribe("", 5, {});
  {
    auto s2 = b->subscribe("", 5, {});
    EXPECT_EQ(b->counters().subscribers, 2u);
  }
  EXPECT_EQ(b->counters().subscribers, 1u);
  b.reset();  // the bus goes first: the subscription must not touch it afterwards
  EXPECT_TRUE(s1->take().empty());
}

TEST(EventJson, OneObjectPerLine) {
  Event e;
  e.seq = 7;
  e.timeMs = 1714557600123;
  e.type = "lease.granted";
  e.network = "default";
  e.details = {{"ip", "192.168.122.10"}, {"mac", "52:54:00:00:00:01"}};
  std::string text = eventJson(e);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text,
            R"({"seq":7,"time":"2024-05-01T10:00:00.123Z","type":"lease.granted",)"
            R"("network":"default","details":{"ip":"192.168.122.10","mac":"52:54:00:00:00:01"}})");
  e.network.clear();
  e.details.clear();
  auto j = nlohmann::json::parse(eventJson(e));
  EXPECT_FALSE(j.contains("network"));
  EXPECT_TRUE(j["details"].is_object());
}

}  // namespace
}  // namespace vnet::daemon

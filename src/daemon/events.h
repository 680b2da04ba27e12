// EventBus: what happened in the daemon, for `vnetctl events` and GET /v1/events.
//
// publish() stamps an event with a sequence number and the time, keeps it in a bounded
// ring of recent events, and appends it to the queue of every subscriber whose filter
// matches. A subscriber's queue is bounded: when it is full, newer events for that
// subscriber are dropped and counted, and the next take() ends with one
// "events.dropped" marker saying how many were lost after the events it returns. So a slow or dead
// subscriber costs at most its queue's memory and never blocks publish().
//
// Single-threaded (the daemon's event loop). Subscriptions may outlive the bus (they
// are detached when it goes) but not the thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vnet::daemon {

struct Event {
  uint64_t seq = 0;     // assigned by publish(): 1, 2, ...
  int64_t timeMs = 0;   // unix milliseconds; publish() fills it when 0
  std::string type;     // "network.started", "port.added", "lease.granted", "repair", ...
  std::string network;  // empty for daemon-wide events
  std::vector<std::pair<std::string, std::string>> details;  // in the order given
};

// Event type names, so publishers and tests agree on the spelling.
namespace event_type {
inline constexpr const char* kNetworkDefined = "network.defined";
inline constexpr const char* kNetworkStarted = "network.started";
inline constexpr const char* kNetworkStopped = "network.stopped";
inline constexpr const char* kNetworkUndefined = "network.undefined";
inline constexpr const char* kPortAdded = "port.added";
inline constexpr const char* kPortRemoved = "port.removed";
inline constexpr const char* kLeasePrefix =
    "lease.";  // + granted|renewed|released|expired|declined
inline constexpr const char* kRepair = "repair";
inline constexpr const char* kDropped = "events.dropped";
}  // namespace event_type

// One JSON object on one line (no newline): {"seq":..,"time":"2024-05-01T10:00:00.123Z",
// "type":..,"network":..,"details":{..}} (details values are strings).
std::string eventJson(const Event& e);

class EventBus {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds

  struct Counters {
    uint64_t published = 0;
    uint64_t dropped = 0;  // over all subscribers, ever
    size_t subscribers = 0;
  };

  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // The queued events, oldest first, followed by an "events.dropped" marker (details
    // {"count": "N"}) when events were dropped since the last take().
    std::vector<Event> take();
    bool empty() const { return queue_.empty() && dropped_ == 0; }

   private:
    friend class EventBus;
    Subscription(EventBus* bus, std::string network, size_t maxQueue, std::function<void()> wake)
        : bus_(bus), network_(std::move(network)), maxQueue_(maxQueue), wake_(std::move(wake)) {}
    void offer(const Event& e);

    EventBus* bus_;  // null once the bus is gone
    std::string network_;
    size_t maxQueue_;
    std::function<void()> wake_;
    std::deque<Event> queue_;
    uint64_t dropped_ = 0;
  };

  explicit EventBus(size_t recentCapacity = 1000, Clock clock = {});
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Stamps and delivers `e`. Wake callbacks run synchronously from here; they must not
  // destroy their subscription or publish (post to the event loop instead).
  void publish(Event e);
  // Convenience for the common shape.
  void publish(std::string type, std::string network,
               std::vector<std::pair<std::string, std::string>> details = {});

  // Up to `max` most recent events (oldest first), only those of `network` when it is
  // not empty.
  std::vector<Event> recent(const std::string& network, size_t max) const;

  // A subscriber to the events of `network` (empty: all). `wake` is called when its
  // queue goes from empty to non-empty. At most `maxQueue` events wait (>= 1).
  std::unique_ptr<Subscription> subscribe(std::string network, size_t maxQueue,
                                          std::function<void()> wake);

  Counters counters() const;

 private:
  void unsubscribe(Subscription* s);

  size_t recentCapacity_;
  Clock clock_;
  uint64_t nextSeq_ = 1;
  uint64_t dropped_ = 0;
  std::deque<Event> recent_;
  std::vector<Subscription*> subscribers_;
};

}  // namespace vnet::daemon

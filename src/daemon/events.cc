#include "daemon/events.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "api/json_text.h"

namespace vnet::daemon {

namespace {

int64_t systemMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// RFC 3339 in UTC with milliseconds: "2024-05-01T10:00:00.123Z".
std::string formatTime(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

std::string eventJson(const Event& e) {
  nlohmann::ordered_json j;
  if (e.seq != 0) j["seq"] = e.seq;
  j["time"] = formatTime(e.timeMs);
  j["type"] = e.type;
  if (!e.network.empty()) j["network"] = e.network;
  nlohmann::ordered_json details = nlohmann::ordered_json::object();
  for (const auto& [k, v] : e.details) details[k] = v;
  j["details"] = details;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

EventBus::EventBus(size_t recentCapacity, Clock clock)
    : recentCapacity_(recentCapacity), clock_(clock ? std::move(clock) : Clock(systemMillis)) {}

EventBus::~EventBus() {
  for (Subscription* s : subscribers_) s->bus_ = nullptr;
}

void EventBus::publish(Event e) {
  e.seq = nextSeq_++;
  if (e.timeMs == 0) e.timeMs = clock_();
  for (Subscription* s : subscribers_) s->offer(e);
  if (recentCapacity_ > 0) {
    if (recent_.size() == recentCapacity_) recent_.pop_front();
    recent_.push_back(std::move(e));
  }
}

void EventBus::publish(std::string type, std::string network,
                       std::vector<std::pair<std::string, std::string>> details) {
  Event e;
  e.type = std::move(type);
  e.network = std::move(network);
  e.details = std::move(details);
  publish(std::move(e));
}

std::vector<Event> EventBus::recent(const std::string& network, size_t max) const {
  std::vector<Event> out;
  for (auto it = recent_.rbegin(); it != recent_.rend() && out.size() < max; ++it) {
    if (network.empty() || it->network == network) out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::unique_ptr<EventBus::Subscription> EventBus::subscribe(std::string network, size_t maxQueue,
                                                            std::function<void()> wake) {
  std::unique_ptr<Subscription> s(
      new Subscription(this, std::move(network), std::max<size_t>(maxQueue, 1), std::move(wake)));
  subscribers_.push_back(s.get());
  return s;
}

void EventBus::unsubscribe(Subscription* s) {
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), s), subscribers_.end());
}

EventBus::Counters EventBus::counters() const {
  return Counters{nextSeq_ - 1, dropped_, subscribers_.size()};
}

EventBus::Subscription::~Subscription() {
  if (bus_) bus_->unsubscribe(this);
}

void EventBus::Subscription::offer(const Event& e) {
  if (!network_.empty() && e.network != network_) return;
  bool wasEmpty = empty();
  if (queue_.size() >= maxQueue_) {
    ++dropped_;
    if (bus_) ++bus_->dropped_;
    return;
  }
  queue_.push_back(e);
  if (wasEmpty && wake_) wake_();
}

std::vector<Event> EventBus::Subscription::take() {
  std::vector<Event> out;
  out.reserve(queue_.size() + 1);
  for (auto& e : queue_) out.push_back(std::move(e));
  queue_.clear();
  if (dropped_ > 0) {
    Event marker;
    marker.type = event_type::kDropped;
    marker.network = network_;
    marker.timeMs = bus_ ? bus_->clock_() : systemMillis();
    marker.details = {{"count", std::to_string(dropped_)}};
    out.push_back(std::move(marker));
    dropped_ = 0;
  }
  return out;
}

}  // namespace vnet::daemon

#include "testing/fake_services.h"

namespace vnet::testing {

class FakeServices::Instance final : public daemon::NetworkServices {
 public:
  Instance(FakeServices& owner, const model::Network& net) : owner_(owner), name_(net.name) {
    owner_.running_[name_] = net;
  }
  ~Instance() override {
    owner_.running_.erase(name_);
    owner_.calls_.push_back("stop " + name_);
  }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  Status reconfigure(const model::Network& net) override {
    owner_.calls_.push_back("reconfigure " + name_);
    if (owner_.failReconfigure_) {
      Error e = std::move(*owner_.failReconfigure_);
      owner_.failReconfigure_.reset();
      return e;
    }
    owner_.running_[name_] = net;
    return Status::success();
  }
  std::vector<daemon::LeaseInfo> leases() const override { return {}; }
  daemon::ServiceCounters counters() const override { return {}; }

 private:
  FakeServices& owner_;
  std::string name_;
};

Result<std::unique_ptr<daemon::NetworkServices>> FakeServices::start(const model::Network& net) {
  calls_.push_back("start " + net.name);
  if (failStart_) {
    Error e = std::move(*failStart_);
    failStart_.reset();
    return e;
  }
  return std::unique_ptr<daemon::NetworkServices>(std::make_unique<Instance>(*this, net));
}

}  // namespace vnet::testing

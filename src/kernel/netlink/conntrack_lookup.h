// NfConntrackLookup: kernel::ConntrackLookup over libnetfilter-conntrack (ctnetlink GET by
// original tuple), in the calling thread's network namespace. Each find() is one
// synchronous request on the object's own handle. Not thread-safe.
#pragma once

#include <memory>

#include "kernel/trace.h"

struct nfct_handle;

namespace vnet::kernel {

class NfConntrackLookup final : public ConntrackLookup {
 public:
  static Result<std::unique_ptr<NfConntrackLookup>> open();
  ~NfConntrackLookup() override;
  NfConntrackLookup(const NfConntrackLookup&) = delete;
  NfConntrackLookup& operator=(const NfConntrackLookup&) = delete;

  Result<std::optional<ConntrackEntry>> find(const FlowTuple& t) override;

 private:
  struct HandleCloser {
    void operator()(nfct_handle* h) const;
  };
  explicit NfConntrackLookup(std::unique_ptr<nfct_handle, HandleCloser> h);
  std::unique_ptr<nfct_handle, HandleCloser> handle_;
};

}  // namespace vnet::kernel

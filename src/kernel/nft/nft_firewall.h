// NftFirewall: kernel::Firewall on libnftables. Every call runs one nft script as one
// transaction in the calling thread's network namespace; on failure the kernel keeps the
// previous ruleset and the Error carries libnftables' error text. Touches only
// `table inet vnet`. Not thread-safe: one caller at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "kernel/firewall.h"
#include "kernel/nft/render.h"

struct nft_ctx;

namespace vnet::kernel::nft {

class NftFirewall final : public Firewall {
 public:
  static Result<std::unique_ptr<NftFirewall>> create();
  ~NftFirewall() override;
  NftFirewall(const NftFirewall&) = delete;
  NftFirewall& operator=(const NftFirewall&) = delete;

  // Replaces whatever the table holds for `net.name` in one batch: what this object
  // installed itself is remembered; otherwise (leftovers of an earlier run, adoption after a
  // restart, or a batch that failed against the remembered state) the table is listed.
  // Error context: "adding rules for network '<name>'".
  Status addNetwork(const model::Network& net) override;
  // Deletes the map elements and chains the table holds for `net.name`; success when it
  // holds none. Error context: "removing rules for network '<name>'".
  Status removeNetwork(const model::Network& net) override;
  Result<std::string> listTable() override;

  bool tableExists();
  // Deletes our table (success when absent).
  Status deleteTable();
  // What the table holds for network `name` now (empty when the table is absent).
  Result<NetworkObjects> installed(std::string_view name);
  // Drops what this object remembers of the table: the next add lists it again and
  // re-applies the fixed chains and sets. For callers that know the table was changed
  // behind our back (drift repair).
  void forget();
  // Runs `script` as one transaction. Public for tests that need a raw (bad) batch.
  Status apply(std::string_view script);

 private:
  struct CtxDeleter {
    void operator()(nft_ctx* ctx) const;
  };
  explicit NftFirewall(std::unique_ptr<nft_ctx, CtxDeleter> ctx);
  // Runs `script`, returning libnftables' output (JSON when `json`).
  Result<std::string> run(std::string_view script, bool json);
  // The objects network `name` has in the table: from the tracked state when trustCache
  // and known, else from a fresh listing (which then becomes the tracked state).
  Result<NetworkObjects> current(const std::string& name, bool trustCache);
  // Replaces network `name`'s objects by those of *net (nullptr: removes them).
  Status replace(const std::string& name, const model::Network* net, const std::string& ctx);

  std::unique_ptr<nft_ctx, CtxDeleter> ctx_;
  // Everything of ours in the table (all networks' chains and map elements), listed once
  // and then kept up to date by our own batches, so that a start or stop does not list a
  // table that grows with the number of networks.
  std::optional<NetworkObjects> table_;
  // The fixed sets and chains were applied by this object and no batch failed since: adds
  // leave them out (re-applying them re-validates the whole table in the kernel).
  bool baseReady_ = false;
};

Result<std::unique_ptr<Firewall>> makeNftFirewall();

// Parses `nft -j list table inet vnet` output into the objects of network `name`.
// Exposed for unit tests.
Result<NetworkObjects> parseInstalled(std::string_view listJson, std::string_view name);

}  // namespace vnet::kernel::nft

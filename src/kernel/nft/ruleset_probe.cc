#include "kernel/nft/ruleset_probe.h"

#include <nftables/libnftables.h>

#include <memory>

namespace vnet::kernel::nft {
namespace {

struct CtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using CtxPtr = std::unique_ptr<nft_ctx, CtxDeleter>;

Result<CtxPtr> newContext() {
  CtxPtr ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error("libnftables: cannot create a context");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return Error("libnftables: cannot buffer output");
  }
  return ctx;
}

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs one command; its output on success, libnftables' error text otherwise.
Result<std::string> run(nft_ctx* ctx, const char* cmd) {
  const int rc = nft_run_cmd_from_buffer(ctx, cmd);
  std::string out = nft_ctx_get_output_buffer(ctx);
  std::string err = trimmed(nft_ctx_get_error_buffer(ctx));
  if (rc == 0) return out;
  return Error(err.empty() ? std::string("nft: '") + cmd + "' failed" : err);
}

}  // namespace

Result<RulesetListing> listRuleset() {
  auto ctx = newContext();
  if (!ctx) return std::move(ctx).error();
  RulesetListing out;
  nft_ctx_output_set_flags(ctx->get(), NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  auto json = run(ctx->get(), "list ruleset");
  if (!json) return std::move(json).error().context("listing the ruleset (JSON)");
  out.json = std::move(*json);
  nft_ctx_output_set_flags(ctx->get(), NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS);
  auto text = run(ctx->get(), "list ruleset");
  if (!text) return std::move(text).error().context("listing the ruleset");
  out.text = std::move(*text);
  return out;
}

Status checkNatUsable() {
  auto ctx = newContext();
  if (!ctx) return std::move(ctx).error();
  nft_ctx_set_dry_run(ctx->get(), true);
  auto r = run(ctx->get(),
               "table inet vnet_doctor_probe {\n"
               "  chain postrouting {\n"
               "    type nat hook postrouting priority srcnat; policy accept;\n"
               "    meta l4proto { tcp, udp } masquerade to :1024-65535\n"
               "    masquerade\n"
               "  }\n"
               "}\n");
  if (!r) return std::move(r).error();
  return Status::success();
}

}  // namespace vnet::kernel::nft

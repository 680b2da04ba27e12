#include "kernel/nft/nft_firewall.h"

#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "base/unique_fd.h"

namespace vnet::kernel::nft {
namespace {

const std::string kTableRef = std::string(kFamily) + " " + std::string(kTableName);

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// An element key from the JSON listing, back in the syntax the renderer writes: strings
// (interface names) quoted, prefixes "addr/len", ranges "a-b", concatenations " . ".
std::optional<std::string> keyText(const nlohmann::json& key, bool quoteStrings = true) {
  if (key.is_string()) {
    return quoteStrings ? "\"" + key.get<std::string>() + "\"" : key.get<std::string>();
  }
  if (key.is_number_integer()) return std::to_string(key.get<long long>());
  if (!key.is_object()) return std::nullopt;
  if (key.contains("prefix")) {
    const auto& p = key["prefix"];
    return p.value("addr", "") + "/" + std::to_string(p.value("len", 0));
  }
  if (key.contains("range") && key["range"].size() == 2) {
    auto a = keyText(key["range"][0], quoteStrings);
    auto b = keyText(key["range"][1], quoteStrings);
    if (a && b) return *a + "-" + *b;
  }
  if (key.contains("concat") && key["concat"].is_array()) {
    std::string out;
    for (const auto& part : key["concat"]) {
      auto t = keyText(part);
      if (!t) return std::nullopt;
      out += (out.empty() ? "" : " . ") + *t;
    }
    return out;
  }
  return std::nullopt;
}

// Addresses are listed unquoted: a string field of an address-typed key is not an
// interface name. `types` is the set's key type list in order.
std::optional<std::string> keyTextTyped(const nlohmann::json& key,
                                        const std::vector<std::string>& types) {
  auto unquoteIfAddress = [](const nlohmann::json& part, const std::string& type) {
    return keyText(part, type == "ifname");
  };
  if (key.is_object() && key.contains("concat") && key["concat"].is_array() &&
      key["concat"].size() == types.size()) {
    std::string out;
    for (size_t i = 0; i < types.size(); ++i) {
      auto t = unquoteIfAddress(key["concat"][i], types[i]);
      if (!t) return std::nullopt;
      out += (i == 0 ? "" : " . ") + *t;
    }
    return out;
  }
  return unquoteIfAddress(key, types.empty() ? std::string() : types[0]);
}

}  // namespace

namespace {

// The chains and set/map elements of a JSON listing whose chain or owner satisfies `ours`
// (elements: their comment, the owner; chains: their name).
template <typename ChainPred, typename OwnerPred>
Result<NetworkObjects> parseListing(std::string_view listJson, ChainPred oursChain,
                                    OwnerPred oursOwner) {
  auto doc = nlohmann::json::parse(listJson, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("nftables") || !doc["nftables"].is_array()) {
    return Error("unexpected nft JSON listing of table " + kTableRef);
  }

  NetworkObjects objects;
  for (const auto& item : doc["nftables"]) {
    if (item.contains("chain")) {
      std::string chain = item["chain"].value("name", "");
      if (oursChain(chain)) objects.chains.push_back(chain);
      continue;
    }
    const char* kind = item.contains("set") ? "set" : item.contains("map") ? "map" : nullptr;
    if (!kind || !item[kind].contains("elem")) continue;
    const auto& set = item[kind];
    std::vector<std::string> types;
    if (set["type"].is_string()) types.push_back(set["type"].get<std::string>());
    if (set["type"].is_array()) {
      for (const auto& t : set["type"]) types.push_back(t.is_string() ? t.get<std::string>() : "");
    }
    for (const auto& e : set["elem"]) {
      // set: {"elem": {"val": K, "comment": C}} or K;  map: [that, verdict]
      const nlohmann::json& keyPart = (e.is_array() && e.size() == 2) ? e[0] : e;
      std::string target;
      if (e.is_array() && e.size() == 2) {
        for (const char* v : {"jump", "goto"}) {
          if (e[1].contains(v)) target = e[1][v].value("target", "");
        }
      }
      std::string owner;
      const nlohmann::json* key = &keyPart;
      if (keyPart.is_object() && keyPart.contains("elem")) {
        owner = keyPart["elem"].value("comment", "");
        key = &keyPart["elem"]["val"];
      }
      if (!oursOwner(owner)) continue;
      auto text = keyTextTyped(*key, types);
      if (!text) return Error("unexpected element key in " + std::string(kind) + " " + set.value("name", "?"));
      objects.elements.push_back({set.value("name", ""), *text, target, owner});
    }
  }
  return objects;
}

// The part of `all` that belongs to network `name`.
NetworkObjects objectsOfNetwork(const NetworkObjects& all, std::string_view name) {
  const std::vector<std::string> candidates = possibleChains(name);
  const std::string owner = chainId(name);
  NetworkObjects out;
  for (const auto& c : all.chains) {
    if (std::find(candidates.begin(), candidates.end(), c) != candidates.end()) {
      out.chains.push_back(c);
    }
  }
  for (const auto& e : all.elements) {
    if (e.owner == owner) out.elements.push_back(e);
  }
  return out;
}

// Everything with an owner: all elements carrying a comment, and the chains that are not
// part of the fixed layout.
Result<NetworkObjects> parseAll(std::string_view listJson) {
  return parseListing(
      listJson, [](const std::string& chain) { return !isFixedChain(chain); },
      [](const std::string& owner) { return !owner.empty(); });
}

void subtract(NetworkObjects& all, const NetworkObjects& gone) {
  std::erase_if(all.chains, [&](const std::string& c) {
    return std::find(gone.chains.begin(), gone.chains.end(), c) != gone.chains.end();
  });
  std::erase_if(all.elements, [&](const MapElement& e) {
    return std::find(gone.elements.begin(), gone.elements.end(), e) != gone.elements.end();
  });
}

}  // namespace

Result<NetworkObjects> parseInstalled(std::string_view listJson, std::string_view name) {
  auto all = parseAll(listJson);
  if (!all) return std::move(all).error();
  return objectsOfNetwork(*all, name);
}

void NftFirewall::CtxDeleter::operator()(nft_ctx* ctx) const {
  nft_ctx_free(ctx);
}

NftFirewall::NftFirewall(std::unique_ptr<nft_ctx, CtxDeleter> ctx) : ctx_(std::move(ctx)) {}
NftFirewall::~NftFirewall() = default;

Result<std::unique_ptr<NftFirewall>> NftFirewall::create() {
  std::unique_ptr<nft_ctx, CtxDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error("libnftables: cannot create a context");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return Error("libnftables: cannot buffer output");
  }
  return std::unique_ptr<NftFirewall>(new NftFirewall(std::move(ctx)));
}

// The script goes through a memfd and nft_run_cmd_from_filename rather than
// nft_run_cmd_from_buffer: same single transaction, but libnftables 1.0.6 then reports
// errors as "<file>:<line>:<columns>" with the offending line (for a buffer it shows the
// buffer's first line whatever the error's line).
Result<std::string> NftFirewall::run(std::string_view script, bool json) {
  UniqueFd fd(memfd_create("vnet-nft", MFD_CLOEXEC));
  if (!fd) return Error::fromErrno("memfd_create", errno);
  for (size_t done = 0; done < script.size();) {
    ssize_t n = ::write(fd.get(), script.data() + done, script.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::fromErrno("writing the nft batch", errno);
    done += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());

  unsigned flags = nft_ctx_output_get_flags(ctx_.get());
  nft_ctx_output_set_flags(
      ctx_.get(), json ? (flags | NFT_CTX_OUTPUT_JSON) : (flags & ~unsigned{NFT_CTX_OUTPUT_JSON}));
  int rc = nft_run_cmd_from_filename(ctx_.get(), path.c_str());
  nft_ctx_output_set_flags(ctx_.get(), flags);
  // Reading a buffer also rewinds it for the next command.
  std::string output = nft_ctx_get_output_buffer(ctx_.get());
  std::string errors = trimmed(nft_ctx_get_error_buffer(ctx_.get()));
  if (rc == 0) return output;
  if (errors.empty()) return Error("nft batch failed");
  for (size_t at = errors.find(path); at != std::string::npos; at = errors.find(path, at)) {
    errors.replace(at, path.size(), "batch");
  }
  return Error(errors);
}

Status NftFirewall::apply(std::string_view script) {
  auto r = run(script, false);
  if (!r) return std::move(r).error();
  return Status::success();
}

bool NftFirewall::tableExists() {
  auto out = run("list tables " + std::string(kFamily), false);
  if (!out) return false;
  const std::string line = "table " + kTableRef;
  size_t pos = 0;
  while (pos < out->size()) {
    size_t end = out->find('\n', pos);
    if (end == std::string::npos) end = out->size();
    if (out->compare(pos, end - pos, line) == 0) return true;
    pos = end + 1;
  }
  return false;
}

Status NftFirewall::deleteTable() {
  forget();
  if (!tableExists()) return Status::success();
  Status s = apply("delete table " + kTableRef + "\n");
  if (!s) return std::move(s).error().context("deleting table " + kTableRef);
  return s;
}

Result<NetworkObjects> NftFirewall::installed(std::string_view name) {
  if (!tableExists()) return NetworkObjects{};
  auto json = run("list table " + kTableRef, true);
  if (!json) return std::move(json).error().context("listing table " + kTableRef);
  return parseInstalled(*json, name);
}

Result<NetworkObjects> NftFirewall::current(const std::string& name, bool trustCache) {
  if (!trustCache || !table_) {
    table_.reset();
    NetworkObjects all;
    if (tableExists()) {
      auto json = run("list table " + kTableRef, true);
      if (!json) return std::move(json).error().context("listing table " + kTableRef);
      auto parsed = parseAll(*json);
      if (!parsed) return std::move(parsed).error();
      all = std::move(*parsed);
    }
    table_ = std::move(all);
  }
  return objectsOfNetwork(*table_, name);
}

Status NftFirewall::replace(const std::string& name, const model::Network* net,
                            const std::string& ctx) {
  // The table is listed once and then tracked through our own batches; when a batch fails
  // against the tracked state (someone changed the table), it is listed again and the
  // batch retried once.
  Status s;
  for (bool trustCache : {true, false}) {
    auto old = current(name, trustCache);
    if (!old) return std::move(old).error().context(ctx);
    if (net) {
      s = apply(renderAddNetwork(*net, *old, !baseReady_));
    } else {
      s = old->empty() ? Status::success() : apply(renderRemove(*old));
    }
    if (s.ok()) {
      if (net) baseReady_ = true;
      subtract(*table_, *old);
      if (net) {
        NetworkObjects added = objectsOf(*net);
        table_->chains.insert(table_->chains.end(), added.chains.begin(), added.chains.end());
        table_->elements.insert(table_->elements.end(), added.elements.begin(),
                                added.elements.end());
      }
      return s;
    }
    forget();
  }
  return std::move(s).error().context(ctx);
}

void NftFirewall::forget() {
  table_.reset();
  baseReady_ = false;
}

Status NftFirewall::addNetwork(const model::Network& net) {
  const std::string ctx = "adding rules for network '" + net.name + "'";
  if (Status s = checkRenderable(net); !s) return std::move(s).error().context(ctx);
  return replace(net.name, &net, ctx);
}

Status NftFirewall::removeNetwork(const model::Network& net) {
  return replace(net.name, nullptr, "removing rules for network '" + net.name + "'");
}

Result<std::string> NftFirewall::listTable() {
  if (!tableExists()) return std::string();
  auto out = run("list table " + kTableRef, false);
  if (!out) return std::move(out).error().context("listing table " + kTableRef);
  return out;
}

Result<std::unique_ptr<Firewall>> makeNftFirewall() {
  auto fw = NftFirewall::create();
  if (!fw) return std::move(fw).error();
  return std::unique_ptr<Firewall>(std::move(*fw));
}

}  // namespace vnet::kernel::nft

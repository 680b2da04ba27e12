#include "kernel/nft/nft_tracing.h"

// clang-format off
// glibc's <netinet/in.h> before the kernel's headers: they then skip their own copies.
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/trace.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
// clang-format on

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "base/unique_fd.h"
#include "kernel/nft/render.h"
#include "kernel/nft/trace_listing.h"
#include "kernel/nft/trace_rules.h"

namespace vnet::kernel::nft {

namespace asio = boost::asio;

namespace {

const std::string kTableRef = std::string(kFamily) + " " + std::string(kTableName);

const char* familyName(uint32_t f) {
  switch (f) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_NETDEV:
      return "netdev";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_IPV6:
      return "ip6";
    default:
      return "unknown";
  }
}

std::string verdictName(uint32_t code) {
  auto v = static_cast<int32_t>(code);
  switch (v) {
    case NFT_CONTINUE:
      return "continue";
    case NFT_BREAK:
      return "break";
    case NFT_JUMP:
      return "jump";
    case NFT_GOTO:
      return "goto";
    case NFT_RETURN:
      return "return";
    default:
      break;
  }
  switch (code & NF_VERDICT_MASK) {
    case NF_DROP:
      return "drop";
    case NF_ACCEPT:
      return "accept";
    case NF_STOLEN:
      return "stolen";
    case NF_QUEUE:
      return "queue";
    case NF_REPEAT:
      return "repeat";
    default:
      return "verdict " + std::to_string(code);
  }
}

std::string ifName(uint32_t index) {
  char buf[IF_NAMESIZE] = {};
  if (index == 0) return "";
  if (::if_indextoname(index, buf) == nullptr) return "#" + std::to_string(index);
  return buf;
}

std::vector<uint8_t> bytesOf(const nftnl_trace* t, uint16_t attr) {
  if (!nftnl_trace_is_set(t, attr)) return {};
  uint32_t len = 0;
  const void* p = nftnl_trace_get_data(t, attr, &len);
  if (!p) return {};
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + len);
}

std::string strOf(const nftnl_trace* t, uint16_t attr) {
  if (!nftnl_trace_is_set(t, attr)) return "";
  const char* s = nftnl_trace_get_str(t, attr);
  return s ? s : "";
}

struct TraceFree {
  void operator()(nftnl_trace* t) const { nftnl_trace_free(t); }
};

// Decodes one NFT_MSG_TRACE message (other messages are skipped).
int collectTrace(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<TraceEvent>*>(data);
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
      NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_TRACE) {
    return MNL_CB_OK;
  }
  std::unique_ptr<nftnl_trace, TraceFree> t(nftnl_trace_alloc());
  if (!t || nftnl_trace_nlmsg_parse(nlh, t.get()) < 0) return MNL_CB_OK;
  TraceEvent e;
  e.id = nftnl_trace_get_u32(t.get(), NFTNL_TRACE_ID);
  switch (nftnl_trace_get_u32(t.get(), NFTNL_TRACE_TYPE)) {
    case NFT_TRACETYPE_POLICY:
      e.type = TraceEvent::Type::Policy;
      break;
    case NFT_TRACETYPE_RETURN:
      e.type = TraceEvent::Type::Return;
      break;
    case NFT_TRACETYPE_RULE:
      e.type = TraceEvent::Type::Rule;
      break;
    default:
      return MNL_CB_OK;
  }
  e.family = familyName(nftnl_trace_get_u32(t.get(), NFTNL_TRACE_FAMILY));
  e.table = strOf(t.get(), NFTNL_TRACE_TABLE);
  e.chain = strOf(t.get(), NFTNL_TRACE_CHAIN);
  if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_RULE_HANDLE)) {
    e.handle = nftnl_trace_get_u64(t.get(), NFTNL_TRACE_RULE_HANDLE);
  }
  if (e.type == TraceEvent::Type::Policy) {
    if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_POLICY)) {
      e.verdict = verdictName(nftnl_trace_get_u32(t.get(), NFTNL_TRACE_POLICY));
    }
  } else if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_VERDICT)) {
    e.verdict = verdictName(nftnl_trace_get_u32(t.get(), NFTNL_TRACE_VERDICT));
    e.target = strOf(t.get(), NFTNL_TRACE_JUMP_TARGET);
  }
  if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_MARK)) {
    e.mark = nftnl_trace_get_u32(t.get(), NFTNL_TRACE_MARK);
  }
  e.network = bytesOf(t.get(), NFTNL_TRACE_NETWORK_HEADER);
  e.transport = bytesOf(t.get(), NFTNL_TRACE_TRANSPORT_HEADER);
  e.hasPacket = !e.network.empty() || nftnl_trace_is_set(t.get(), NFTNL_TRACE_LL_HEADER) ||
                nftnl_trace_is_set(t.get(), NFTNL_TRACE_IIF) ||
                nftnl_trace_is_set(t.get(), NFTNL_TRACE_OIF);
  if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_IIF)) {
    e.iif = ifName(nftnl_trace_get_u32(t.get(), NFTNL_TRACE_IIF));
  }
  if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_OIF)) {
    e.oif = ifName(nftnl_trace_get_u32(t.get(), NFTNL_TRACE_OIF));
  }
  if (nftnl_trace_is_set(t.get(), NFTNL_TRACE_NFPROTO)) {
    e.nfproto = static_cast<uint8_t>(nftnl_trace_get_u32(t.get(), NFTNL_TRACE_NFPROTO));
  }
  out->push_back(std::move(e));
  return MNL_CB_OK;
}

}  // namespace

struct NftTracing::Impl {
  struct CtxDeleter {
    void operator()(nft_ctx* c) const { nft_ctx_free(c); }
  };
  // The subscribed socket; handlers hold it by shared_ptr so that stopListening() from
  // inside a callback does not free what the running handler uses.
  struct Listener {
    explicit Listener(asio::io_context& io) : sd(io) {}
    asio::posix::stream_descriptor sd;
    TraceListener callbacks;
    bool active = true;
  };
  using ChainKey = std::tuple<std::string, std::string, std::string>;

  explicit Impl(asio::io_context& ioc) : io(ioc) {}

  // Runs `cmd` with extra output flags; returns libnftables' output.
  Result<std::string> run(const std::string& cmd, unsigned flags) {
    unsigned old = nft_ctx_output_get_flags(ctx.get());
    nft_ctx_output_set_flags(ctx.get(), flags);
    int rc = nft_run_cmd_from_buffer(ctx.get(), cmd.c_str());
    nft_ctx_output_set_flags(ctx.get(), old);
    std::string output = nft_ctx_get_output_buffer(ctx.get());
    std::string errors = nft_ctx_get_error_buffer(ctx.get());
    if (rc == 0) return output;
    while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' ')) errors.pop_back();
    return Error(errors.empty() ? "nft command failed" : errors);
  }

  bool chainExists(const std::string& chain) {
    return run("list chain " + kTableRef + " " + chain, 0).ok();
  }

  // The hook, type, priority and rules of a chain, listed once while listening; listed
  // again when `handle` is asked for and missing (the chain changed).
  const ChainListing& chainListing(const std::string& family, const std::string& table,
                                   const std::string& chain, uint64_t handle) {
    ChainKey key{family, table, chain};
    auto it = chains.find(key);
    bool stale = it != chains.end() && handle != 0 && !it->second.rules.count(handle) &&
                 !it->second.missing.count(handle);
    if (it == chains.end() || stale) {
      const std::string ref = family + " " + table + " " + chain;
      ChainListing listing;
      if (auto json = run("list chain " + ref, NFT_CTX_OUTPUT_JSON)) {
        listing = parseChainJson(*json);
      }
      if (auto text = run("list chain " + ref, NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS)) {
        listing.rules = parseRuleHandles(*text);
      }
      if (handle != 0 && !listing.rules.count(handle)) listing.missing.insert(handle);
      it = chains.insert_or_assign(key, std::move(listing)).first;
    }
    return it->second;
  }

  void annotate(TraceEvent& e) {
    const ChainListing& c =
        chainListing(e.family, e.table, e.chain, e.type == TraceEvent::Type::Rule ? e.handle : 0);
    e.ourTable = e.family == kFamily && e.table == kTableName;
    if (e.ourTable) {
      if (auto id = traceIdOfChain(e.chain)) {
        e.traceId = *id;
        e.traceReply = e.chain == traceReplyChainName(*id);
      }
    }
    e.hook = c.hook;
    e.chainType = c.type;
    e.priority = c.priority;
    if (e.type == TraceEvent::Type::Rule) {
      auto r = c.rules.find(e.handle);
      if (r != c.rules.end()) e.rule = r->second;
    }
  }

  void wait(const std::shared_ptr<Listener>& l) {
    l->sd.async_wait(asio::posix::descriptor_base::wait_read,
                     [this, l](const boost::system::error_code& ec) {
                       if (!l->active || ec) return;
                       onReadable(l);
                     });
  }

  void onReadable(const std::shared_ptr<Listener>& l) {
    for (;;) {
      ssize_t n = ::recv(l->sd.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == ENOBUFS) {
        if (l->callbacks.problem) {
          l->callbacks.problem("trace events were lost: the kernel's queue overflowed");
        }
        if (!l->active) return;
        continue;
      }
      if (n <= 0) {
        if (l->callbacks.problem) {
          l->callbacks.problem(Error::fromErrno("reading trace events", errno).message());
        }
        return;
      }
      std::vector<TraceEvent> events;
      mnl_cb_run(buffer.data(), static_cast<size_t>(n), 0, 0, collectTrace, &events);
      for (auto& e : events) {
        annotate(e);
        l->callbacks.event(e);
        if (!l->active) return;
      }
    }
    wait(l);
  }

  asio::io_context& io;
  std::unique_ptr<nft_ctx, CtxDeleter> ctx;
  std::shared_ptr<Listener> listener;
  std::map<ChainKey, ChainListing> chains;
  std::vector<char> buffer = std::vector<char>(1 << 16);
};

NftTracing::NftTracing(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NftTracing::~NftTracing() {
  stopListening();
}

Result<std::unique_ptr<NftTracing>> NftTracing::create(asio::io_context& io) {
  auto impl = std::make_unique<Impl>(io);
  impl->ctx.reset(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!impl->ctx) return Error("libnftables: cannot create a context");
  if (nft_ctx_buffer_output(impl->ctx.get()) != 0 || nft_ctx_buffer_error(impl->ctx.get()) != 0) {
    return Error("libnftables: cannot buffer output");
  }
  return std::unique_ptr<NftTracing>(new NftTracing(std::move(impl)));
}

Status NftTracing::addTrace(const TraceMatch& m) {
  const std::string ctx = "adding trace chain " + traceChainName(m.id) + " to table " + kTableRef;
  if (Status s = checkTraceMatch(m); !s) return std::move(s).error().context(ctx);
  auto r = impl_->run(renderAddTrace(m), 0);
  if (!r) return std::move(r).error().context(ctx);
  return Status::success();
}

Status NftTracing::followReplies(const TraceMatch& m) {
  const std::string ctx = "adding the reply rule of " + traceChainName(m.id);
  if (Status s = checkTraceMatch(m); !s) return std::move(s).error().context(ctx);
  auto r = impl_->run(renderFollowReplies(m), 0);
  if (!r) return std::move(r).error().context(ctx);
  return Status::success();
}

Status NftTracing::removeTrace(unsigned id) {
  std::vector<std::string> present;
  for (const auto& c : {traceChainName(id), traceReplyChainName(id)}) {
    if (impl_->chainExists(c)) present.push_back(c);
  }
  if (present.empty()) return Status::success();
  auto r = impl_->run(renderRemoveTraceChains(present), 0);
  if (!r) return std::move(r).error().context("removing trace chains of " + traceChainName(id));
  return Status::success();
}

Status NftTracing::removeAllTraces() {
  auto json = impl_->run("list table " + kTableRef, NFT_CTX_OUTPUT_JSON);
  if (!json) return Status::success();  // no table, no trace chains
  std::string batch = renderRemoveTraceChains(chainNamesOf(*json));
  if (batch.empty()) return Status::success();
  auto r = impl_->run(batch, 0);
  if (!r) return std::move(r).error().context("removing leftover trace chains");
  return Status::success();
}

Status NftTracing::listen(TraceListener listener) {
  if (impl_->listener) {
    impl_->listener->callbacks = std::move(listener);
    return Status::success();
  }
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER));
  if (!fd) return Error::fromErrno("opening a netfilter netlink socket", errno);
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::fromErrno("binding the netfilter netlink socket", errno);
  }
  int group = NFNLGRP_NFTRACE;
  if (::setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    return Error::fromErrno("subscribing to nftables trace events", errno);
  }
  // Room for bursts; FORCE needs CAP_NET_ADMIN (vnetd has it), else the plain limit.
  int size = 4 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  auto l = std::make_shared<Impl::Listener>(impl_->io);
  boost::system::error_code ec;
  l->sd.assign(fd.get(), ec);
  if (ec) return Error("watching the trace socket: " + ec.message());
  (void)fd.release();  // owned by the stream_descriptor now
  l->callbacks = std::move(listener);
  impl_->chains.clear();
  impl_->listener = l;
  impl_->wait(l);
  return Status::success();
}

void NftTracing::stopListening() {
  if (!impl_ || !impl_->listener) return;
  auto l = std::move(impl_->listener);
  l->active = false;
  boost::system::error_code ec;
  l->sd.close(ec);
  impl_->chains.clear();
}

}  // namespace vnet::kernel::nft

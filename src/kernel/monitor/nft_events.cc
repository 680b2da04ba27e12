#include "kernel/monitor/nft_events.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <array>
#include <cstring>
#include <memory>

#include "kernel/nft/render.h"

namespace vnet::kernel::monitor {
namespace {

static_assert(nft::kFamily == "inet", "the family check below compares with NFPROTO_INET");
constexpr uint8_t kFamily = NFPROTO_INET;

template <auto FreeFn>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

struct Context {
  NftEventParser* parser;
  ChangeSink* sink;
};

// The object a notification is about: its table, family and a description.
struct Subject {
  bool parsed = false;
  std::string table;
  uint32_t family = 0;
  std::string what;
};

std::string str(const char* s) {
  return s ? s : "";
}

int commentOf(const nftnl_udata* attr, void* data) {
  if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && nftnl_udata_len(attr) > 0) {
    const auto* text = static_cast<const char*>(nftnl_udata_get(attr));
    size_t len = nftnl_udata_len(attr);
    while (len > 0 && text[len - 1] == '\0') --len;
    *static_cast<std::string*>(data) = std::string(text, len);
  }
  return 0;
}

Subject table(const nlmsghdr* nlh) {
  std::unique_ptr<nftnl_table, FreeWith<nftnl_table_free>> t(nftnl_table_alloc());
  if (!t || nftnl_table_nlmsg_parse(nlh, t.get()) < 0) return {};
  return {true, str(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME)),
          nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY), "table"};
}

Subject chain(const nlmsghdr* nlh) {
  std::unique_ptr<nftnl_chain, FreeWith<nftnl_chain_free>> c(nftnl_chain_alloc());
  if (!c || nftnl_chain_nlmsg_parse(nlh, c.get()) < 0) return {};
  return {true, str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)),
          nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY),
          "chain " + str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME))};
}

Subject rule(const nlmsghdr* nlh) {
  std::unique_ptr<nftnl_rule, FreeWith<nftnl_rule_free>> r(nftnl_rule_alloc());
  if (!r || nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return {};
  std::string what = "rule";
  if (nftnl_rule_is_set(r.get(), NFTNL_RULE_USERDATA)) {
    uint32_t len = 0;
    const void* data = nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &len);
    std::string comment;
    if (data && nftnl_udata_parse(data, len, commentOf, &comment) >= 0 && !comment.empty()) {
      what += " \"" + comment + "\"";
    }
  }
  if (nftnl_rule_is_set(r.get(), NFTNL_RULE_HANDLE)) {
    what += " (handle " + std::to_string(nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE)) + ")";
  }
  what += " in chain " + str(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN));
  return {true, str(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)),
          nftnl_rule_get_u32(r.get(), NFTNL_RULE_FAMILY), what};
}

Subject set(const nlmsghdr* nlh, bool elements) {
  std::unique_ptr<nftnl_set, FreeWith<nftnl_set_free>> s(nftnl_set_alloc());
  if (!s) return {};
  if ((elements ? nftnl_set_elems_nlmsg_parse(nlh, s.get()) : nftnl_set_nlmsg_parse(nlh, s.get())) <
      0) {
    return {};
  }
  const std::string name = str(nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
  return {true, str(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)),
          nftnl_set_get_u32(s.get(), NFTNL_SET_FAMILY),
          elements ? "element(s) of map/set " + name : "map/set " + name};
}

Subject object(const nlmsghdr* nlh) {
  std::unique_ptr<nftnl_obj, FreeWith<nftnl_obj_free>> o(nftnl_obj_alloc());
  if (!o || nftnl_obj_nlmsg_parse(nlh, o.get()) < 0) return {};
  return {true, str(nftnl_obj_get_str(o.get(), NFTNL_OBJ_TABLE)),
          nftnl_obj_get_u32(o.get(), NFTNL_OBJ_FAMILY), "object"};
}

Subject flowtable(const nlmsghdr* nlh) {
  std::unique_ptr<nftnl_flowtable, FreeWith<nftnl_flowtable_free>> f(nftnl_flowtable_alloc());
  if (!f || nftnl_flowtable_nlmsg_parse(nlh, f.get()) < 0) return {};
  return {true, str(nftnl_flowtable_get_str(f.get(), NFTNL_FLOWTABLE_TABLE)),
          nftnl_flowtable_get_u32(f.get(), NFTNL_FLOWTABLE_FAMILY), "flowtable"};
}

int genAttr(const nlattr* attr, void* data) {
  auto* at = static_cast<std::array<const nlattr*, NFTA_GEN_MAX + 1>*>(data);
  const int type = mnl_attr_get_type(attr);
  if (type >= 0 && type <= NFTA_GEN_MAX) (*at)[static_cast<size_t>(type)] = attr;
  return MNL_CB_OK;
}

void generation(const nlmsghdr* nlh, Context& ctx) {
  std::array<const nlattr*, NFTA_GEN_MAX + 1> at{};
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), genAttr, &at) < 0) return;
  uint32_t id = 0;
  int pid = 0;
  std::string process;
  if (at[NFTA_GEN_ID] && mnl_attr_validate(at[NFTA_GEN_ID], MNL_TYPE_U32) == 0) {
    id = ntohl(mnl_attr_get_u32(at[NFTA_GEN_ID]));
  }
  if (at[NFTA_GEN_PROC_PID] && mnl_attr_validate(at[NFTA_GEN_PROC_PID], MNL_TYPE_U32) == 0) {
    pid = static_cast<int>(ntohl(mnl_attr_get_u32(at[NFTA_GEN_PROC_PID])));
  }
  if (at[NFTA_GEN_PROC_NAME] &&
      mnl_attr_validate(at[NFTA_GEN_PROC_NAME], MNL_TYPE_NUL_STRING) == 0) {
    process = mnl_attr_get_str(at[NFTA_GEN_PROC_NAME]);
  }
  ctx.parser->finish(id, pid, std::move(process), *ctx.sink);
}

// Attribute 1 is the table's name in every object message (NFTA_TABLE_NAME,
// NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE,
// NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE).
static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 && NFTA_RULE_TABLE == 1 &&
              NFTA_SET_TABLE == 1 && NFTA_SET_ELEM_LIST_TABLE == 1 && NFTA_OBJ_TABLE == 1 &&
              NFTA_FLOWTABLE_TABLE == 1);

int tableAttr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == 1 && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
    *static_cast<const char**>(data) = mnl_attr_get_str(attr);
    return MNL_CB_STOP;
  }
  return MNL_CB_OK;
}

// Cheap check before any libnftnl parsing: other tables' objects (a busy host's Docker or
// firewalld churn) cost one attribute walk.
bool aboutOurTable(const nlmsghdr* nlh) {
  nfgenmsg gen;
  std::memcpy(&gen, mnl_nlmsg_get_payload(nlh), sizeof gen);
  if (gen.nfgen_family != kFamily) return false;
  const char* table = nullptr;
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), tableAttr, &table) < 0 || table == nullptr)
    return false;
  return nft::kTableName == table;
}

int onMessage(const nlmsghdr* nlh, void* data) {
  auto& ctx = *static_cast<Context*>(data);
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return MNL_CB_OK;
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return MNL_CB_OK;
  const int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  if (type != NFT_MSG_NEWGEN && !aboutOurTable(nlh)) return MNL_CB_OK;
  bool removed = false;
  Subject s;
  switch (type) {
    case NFT_MSG_DELTABLE:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWTABLE:
      s = table(nlh);
      break;
    case NFT_MSG_DELCHAIN:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWCHAIN:
      s = chain(nlh);
      break;
    case NFT_MSG_DELRULE:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWRULE:
      s = rule(nlh);
      break;
    case NFT_MSG_DELSET:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWSET:
      s = set(nlh, false);
      break;
    case NFT_MSG_DELSETELEM:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWSETELEM:
      s = set(nlh, true);
      break;
    case NFT_MSG_DELOBJ:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWOBJ:
      s = object(nlh);
      break;
    case NFT_MSG_DELFLOWTABLE:
      removed = true;
      [[fallthrough]];
    case NFT_MSG_NEWFLOWTABLE:
      s = flowtable(nlh);
      break;
    case NFT_MSG_NEWGEN:
      generation(nlh, ctx);
      return MNL_CB_OK;
    default:
      return MNL_CB_OK;
  }
  if (!s.parsed) return MNL_CB_OK;
  const bool ours = s.family == kFamily && s.table == nft::kTableName;
  ctx.parser->note(ours, std::string(removed ? "deleted " : "added ") + s.what);
  return MNL_CB_OK;
}

}  // namespace

void NftEventParser::feed(std::span<const uint8_t> datagram, ChangeSink& sink) {
  Context ctx{this, &sink};
  (void)mnl_cb_run(datagram.data(), datagram.size(), 0, 0, onMessage, &ctx);
}

void NftEventParser::reset() {
  touched_ = false;
  count_ = 0;
  changes_.clear();
}

void NftEventParser::note(bool ours, std::string change) {
  if (!ours) return;
  touched_ = true;
  if (changes_.size() < TableEvent::kMaxChanges) changes_.push_back(std::move(change));
  ++count_;
}

void NftEventParser::finish(uint32_t generation, int pid, std::string process, ChangeSink& sink) {
  if (touched_) {
    TableEvent e;
    e.generation = generation;
    e.pid = pid;
    e.process = std::move(process);
    e.changes = std::move(changes_);
    if (count_ > e.changes.size()) {
      e.changes.push_back("... and " + std::to_string(count_ - e.changes.size()) + " more");
    }
    sink.onTable(e);
  }
  reset();
}

}  // namespace vnet::kernel::monitor

// The temporary chains of `vnetctl trace` in our table `inet vnet` (pure text, no I/O).
//
//   trace_<id>        hook prerouting priority -350 (before raw, conntrack and every
//                     usual chain): `iifname BRIDGE ether saddr GUEST [ip daddr TO]
//                     [meta l4proto P] meta nftrace set 1` — what the guest sends.
//   trace_<id>_reply  hook prerouting priority -150 (after conntrack, before dstnat, so
//                     before a masqueraded reply is translated back): `ct direction reply
//                     ct original ip saddr GUEST_IP [ct original ip daddr TO]
//                     [meta l4proto P] meta nftrace set 1` — the replies to the guest;
//                     empty until the guest's address is known.
//
// Both chains have policy accept and only set the trace flag, so they change no packet's
// fate. They are created and deleted only through these batches, never by renderAddNetwork
// or renderRemove; code that compares the table with what the networks should have
// (drift repair) must skip chains for which isTraceChain() is true.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "kernel/trace.h"

namespace vnet::kernel::nft {

inline constexpr int kTracePriority = -350;
inline constexpr int kTraceReplyPriority = -150;

std::string traceChainName(unsigned id);       // "trace_<id>"
std::string traceReplyChainName(unsigned id);  // "trace_<id>_reply"
// True exactly for names traceChainName/traceReplyChainName produce ("trace_" + decimal
// digits [+ "_reply"]); network chains (chainId + "_fwd_out", "_in", ...) never match.
bool isTraceChain(std::string_view chain);
// The trace id of a trace chain name; nullopt for other names.
std::optional<unsigned> traceIdOfChain(std::string_view chain);

// Refuses what cannot be embedded in a rule: an unusable bridge name or an unknown
// protocol.
Status checkTraceMatch(const TraceMatch& m);

// The rule text of trace_<id> and of trace_<id>_reply ("" when m.guestIp is unset or of
// another family than m.to).
std::string traceRule(const TraceMatch& m);
std::string traceReplyRule(const TraceMatch& m);

// ONE batch adding (or re-creating, flushed) both chains of trace m.id with their rules.
std::string renderAddTrace(const TraceMatch& m);
// ONE batch replacing the rule of trace_<id>_reply.
std::string renderFollowReplies(const TraceMatch& m);
// ONE batch deleting both chains of trace `id` (they must exist).
std::string renderRemoveTrace(unsigned id);
// ONE batch deleting those of `chains` that are trace chains ("" when none is).
std::string renderRemoveTraceChains(const std::vector<std::string>& chains);

}  // namespace vnet::kernel::nft

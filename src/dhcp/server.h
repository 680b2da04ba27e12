// The DHCPv4 server core (RFC 2131 §4.3): bytes in, reply bytes and a destination out.
// It owns no socket and reads no clock of its own; the transport feeds it packets and the
// daemon feeds it a ServerConfig (its own struct: this library knows nothing of the network
// model).
//
// Durability: handle(), expire() and reconfigure() only stage lease writes in the LeaseStore.
// The caller must call commit() before sending any Reply whose requires_commit is set, and
// must drop those replies when commit() fails (see lease_store.h). Lease events are delivered
// by commit(), after the store made them durable.
//
// Thread-safety: none; one server is driven from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "dhcp/lease_store.h"
#include "dhcp/lease_table.h"
#include "dhcp/message.h"

namespace vnet::dhcp {

// Unix time in seconds.
using Clock = std::function<int64_t()>;
Clock systemClock();

struct AddressRange {
  Ipv4 start;
  Ipv4 end;  // inclusive
};

struct StaticHost {
  // Matched by client identifier (option 61, type byte included) when set, else by MAC.
  std::optional<Mac> mac;
  std::vector<uint8_t> client_id;
  Ipv4 ip;
  std::string hostname;                   // sent as option 12 when set
  std::optional<uint32_t> lease_seconds;  // overrides ServerConfig::lease_seconds
};

// RFC 3442 classless static route.
struct ClasslessRoute {
  Ipv4 destination;
  int prefix = 0;
  Ipv4 gateway;
};

struct ServerConfig {
  Ipv4 server_address;  // ours on the subnet; option 54 and the source of replies
  Ipv4 subnet;          // any address in the subnet
  int prefix = 24;
  std::vector<AddressRange> ranges;  // the dynamic pool; may be empty (static hosts only)
  std::vector<StaticHost> hosts;
  std::vector<Ipv4> routers;  // empty: no option 3 (isolated networks get no router)
  std::vector<Ipv4> dns_servers;
  std::string domain_name;
  std::optional<uint16_t> mtu;
  uint32_t lease_seconds = 3600;    // 0 = infinite (sent as 0xffffffff)
  std::string boot_file;            // BOOTP 'file' for PXE
  std::optional<Ipv4> next_server;  // BOOTP 'siaddr' for PXE
  std::vector<ClasslessRoute> classless_routes;
  std::optional<Ipv4> broadcast_address;  // default: the subnet's broadcast address
  uint32_t offer_hold_seconds = 60;       // an OFFER reserves its address this long
  uint32_t decline_quarantine_seconds = 600;

  // Checks ranges, hosts and addresses against the subnet. Paths in errors name the field
  // ("ranges[1]: ...").
  Status validate() const;
};

// What the transport knows about a received packet.
struct RxInfo {
  // The packet was sent to a broadcast address (IP_PKTINFO): REBINDING rather than RENEWING
  // (RFC 2131 §4.3.2). Informational: being authoritative, the server answers both alike.
  bool broadcast = true;
};

struct Destination {
  enum class Kind {
    kBroadcast,        // 255.255.255.255:68
    kUnicast,          // ip:68 through normal routing (the client has ciaddr)
    kUnicastHardware,  // ip:68, but the client has no address yet: send to mac (ARP entry)
  };
  Kind kind = Kind::kBroadcast;
  Ipv4 ip;
  Mac mac;
};

struct Reply {
  MessageType type = MessageType::kAck;
  std::vector<uint8_t> bytes;
  Destination destination;
  // The reply depends on staged lease writes: send it only after a successful commit().
  bool requires_commit = false;
};

struct LeaseEvent {
  enum class Kind { kGranted, kRenewed, kReleased, kExpired, kDeclined };
  Kind kind;
  Lease lease;
};
using LeaseObserver = std::function<void(const LeaseEvent&)>;

enum class DropReason : uint8_t {
  kMalformed,       // parse() rejected the bytes
  kWrongOp,         // not a BOOTREQUEST
  kNoMessageType,   // BOOTP or a bad option 53
  kUnexpectedType,  // a server-to-client type (OFFER, ACK, NAK)
  kRelayed,         // giaddr set: relays are not supported
  kNotForUs,        // server identifier names another server
  kBadRequest,      // a REQUEST that matches no RFC 2131 §4.3.2 state
  kUnknownLease,    // DECLINE/RELEASE for an address the client does not hold
  kCount,
};
const char* dropReasonName(DropReason r);

struct Stats {
  std::array<uint64_t, 9> received{};  // by message type 1..8; [0]: without a valid type
  uint64_t offers = 0;
  uint64_t acks = 0;
  uint64_t naks = 0;
  uint64_t declines = 0;  // addresses quarantined
  uint64_t releases = 0;
  uint64_t expired = 0;
  uint64_t pool_exhausted = 0;
  uint64_t commit_failures = 0;
  std::array<uint64_t, size_t(DropReason::kCount)> dropped{};
  uint64_t drops(DropReason r) const { return dropped[size_t(r)]; }
};

class Server {
 public:
  // Validates config and loads the scope's leases from store. store must outlive the server.
  static Result<std::unique_ptr<Server>> create(ServerConfig config, LeaseStore& store,
                                                Clock clock = systemClock());
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Handles one received datagram (the UDP payload). Returns the reply to send, if any.
  // Never throws on hostile input; every dropped packet is counted in stats().
  std::optional<Reply> handle(std::span<const uint8_t> packet, const RxInfo& rx = {});
  // Same, writing the reply into out (its buffer's capacity is reused: no allocation per
  // packet in the steady state). Returns false when there is no reply; out is then
  // unspecified.
  bool handleInto(std::span<const uint8_t> packet, const RxInfo& rx, Reply& out);
  // Makes staged lease writes durable, then delivers the lease events they carry.
  Status commit();
  // Reclaims every lease whose expiry is at or before now. Returns how many; stages erasures.
  size_t expire(int64_t now);
  // Replaces the configuration. Existing leases stay; a client whose address is no longer
  // valid gets a NAK on its next REQUEST.
  Status reconfigure(ServerConfig config);

  void setObserver(LeaseObserver observer) { observer_ = std::move(observer); }
  const Stats& stats() const { return stats_; }
  const ServerConfig& config() const { return config_; }
  // Active leases (not offers, not quarantined addresses), in ip order.
  std::vector<Lease> leases() const;
  // How many leases leases() would return.
  size_t leaseCount() const;
  // Heap bytes of the in-memory lease index (diagnostics, tests).
  size_t indexBytes() const { return table_.memoryBytes(); }

 private:
  struct Prepared;
  struct Request;
  Server(LeaseStore& store, Clock clock);
  Status applyConfig(ServerConfig config);
  // Replaces the in-memory index with the given (committed) leases.
  void rebuild(const std::vector<Lease>& leases);
  Lease leaseAt(LeaseTable::Ref r) const;

  // Each handler returns true when it wrote a reply into req.out.
  bool onDiscover(Request& req);
  bool onRequest(Request& req);
  bool onDecline(Request& req);
  bool onRelease(Request& req);
  bool onInform(Request& req);

  std::optional<Ipv4> chooseAddress(const Request& req);
  bool assignable(const Request& req, Ipv4 ip);
  void reclaimIfExpired(Ipv4 ip, int64_t now);
  bool inPool(Ipv4 ip) const;
  bool ack(Request& req, Ipv4 ip, bool renewal);
  bool nak(Request& req, const char* why);
  bool makeReply(Request& req, MessageType type, Ipv4 yiaddr, uint32_t lease_seconds,
                 const StaticHost* host);
  const StaticHost* staticHostFor(const Request& req) const;
  uint32_t leaseSecondsFor(const StaticHost* host) const;
  void emit(LeaseEvent::Kind kind, const Lease& lease);
  void drop(DropReason r) { ++stats_.dropped[size_t(r)]; }

  LeaseStore& store_;
  Clock clock_;
  ServerConfig config_;
  std::unique_ptr<Prepared> prepared_;
  // Every address we track (offered, leased, quarantined), by address and by client.
  LeaseTable table_;
  // Events of staged writes, delivered by commit(); collected only with an observer.
  std::vector<LeaseEvent> pending_events_;
  std::vector<LeaseEvent> delivering_;
  // Kept between packets so that their buffers are reused.
  Message request_msg_;
  Message reply_msg_;
  LeaseObserver observer_;
  Stats stats_;
};

}  // namespace vnet::dhcp

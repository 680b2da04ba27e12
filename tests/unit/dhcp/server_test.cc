// Scripted clients against Server::handle(): RFC 2131 §4.3 state machine, allocation,
// option selection, lease events and drop counters. No sockets.
#include "dhcp/server.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "dhcp_test_util.h"

namespace vnet::dhcp {
namespace {

using testing::BadInput;
using testing::badInputs;
using testing::basicConfig;
using testing::Client;
using testing::goldenPath;
using testing::ip;
using testing::mac;
using testing::readFile;
using Kind = Destination::Kind;

constexpr int64_t kStart = 1'700'000'000;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(basicConfig()); }

  void start(ServerConfig config) {
    server_.reset();
    auto s = Server::create(std::move(config), store_, [this] { return now_; });
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(s).value();
    server_->setObserver([this](const LeaseEvent& e) { events_.push_back(e); });
  }

  // Sends m, commits like the transport does, and returns the parsed reply.
  std::optional<Message> send(const Message& m, RxInfo rx = {}) {
    last_ = server_->handle(serialize(m, 1500), rx);
    EXPECT_TRUE(server_->commit().ok());
    if (!last_) return std::nullopt;
    auto r = parse(last_->bytes);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return std::nullopt;
    return std::move(r).value();
  }

  // DISCOVER + REQUEST; returns the bound address.
  Ipv4 dora(const Client& c) {
    auto offer = send(c.discover());
    EXPECT_TRUE(offer);
    if (!offer) return Ipv4();
    EXPECT_EQ(offer->messageType(), MessageType::kOffer);
    auto ack = send(c.select(ip("192.0.2.1"), offer->yiaddr));
    EXPECT_TRUE(ack);
    if (!ack) return Ipv4();
    EXPECT_EQ(ack->messageType(), MessageType::kAck);
    return ack->yiaddr;
  }

  int64_t now_ = kStart;
  MemoryLeaseStore store_;
  std::unique_ptr<Server> server_;
  std::vector<LeaseEvent> events_;
  std::optional<Reply> last_;
};

bool inPool(Ipv4 a) {
  return ip("192.0.2.100") <= a && a <= ip("192.0.2.199");
}

// ---- DORA ----

TEST_F(ServerTest, DiscoverGetsOfferWithConfiguredOptions) {
  Client c;
  auto offer = send(c.discover());
  ASSERT_TRUE(offer);
  EXPECT_EQ(offer->op, kBootReply);
  EXPECT_EQ(offer->xid, c.xid);
  EXPECT_EQ(offer->messageType(), MessageType::kOffer);
  EXPECT_TRUE(inPool(offer->yiaddr)) << offer->yiaddr.toString();
  EXPECT_EQ(offer->serverId(), ip("192.0.2.1"));
  EXPECT_EQ(offer->leaseTime(), 3600u);
  EXPECT_EQ(Ipv4::fromBytes(offer->options.get(opt::kRenewalTime)->data()).toUint(), 1800u);
  EXPECT_EQ(Ipv4::fromBytes(offer->options.get(opt::kRebindingTime)->data()).toUint(), 3150u);
  EXPECT_EQ(Ipv4::fromBytes(offer->options.get(opt::kSubnetMask)->data()), ip("255.255.255.0"));
  EXPECT_TRUE(offer->options.has(opt::kRouter));
  EXPECT_TRUE(offer->options.has(opt::kDnsServers));
  EXPECT_TRUE(offer->options.has(opt::kDomainName));
  EXPECT_FALSE(offer->options.has(opt::kInterfaceMtu));
  EXPECT_FALSE(offer->options.has(opt::kClasslessRoutes));  // only when requested
  // RFC 2131 §4.1: no ciaddr, no broadcast bit: unicast to chaddr/yiaddr.
  EXPECT_EQ(last_->destination.kind, Kind::kUnicastHardware);
  EXPECT_EQ(last_->destination.ip, offer->yiaddr);
  EXPECT_EQ(last_->destination.mac, c.hw);
  EXPECT_FALSE(last_->requires_commit);
  EXPECT_EQ(server_->stats().offers, 1u);
  EXPECT_TRUE(store_.TEST_leases().empty());  // offers are not persisted
}

TEST_F(ServerTest, FullDoraCommitsLeaseBeforeAckAndEmitsGranted) {
  Client c;
  c.hostname = "guest1";
  auto offer = send(c.discover());
  ASSERT_TRUE(offer);
  last_ = server_->handle(serialize(c.select(ip("192.0.2.1"), offer->yiaddr)), {});
  ASSERT_TRUE(last_);
  EXPECT_TRUE(last_->requires_commit);
  EXPECT_TRUE(store_.hasStaged());
  EXPECT_TRUE(events_.empty());  // events wait for durability
  ASSERT_TRUE(server_->commit().ok());
  ASSERT_EQ(store_.TEST_leases().size(), 1u);
  const Lease& l = store_.TEST_leases().begin()->second;
  EXPECT_EQ(l.ip, offer->yiaddr);
  EXPECT_EQ(l.mac, c.hw);
  EXPECT_EQ(l.hostname, "guest1");
  EXPECT_EQ(l.expiry, kStart + 3600);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, LeaseEvent::Kind::kGranted);
  EXPECT_EQ(events_[0].lease.hostname, "guest1");
  EXPECT_EQ(server_->stats().acks, 1u);
  EXPECT_EQ(server_->stats().received[size_t(MessageType::kRequest)], 1u);
}

TEST_F(ServerTest, BroadcastFlagMakesRepliesBroadcast) {
  Client c;
  Message d = c.discover();
  d.flags = kBroadcastFlag;
  ASSERT_TRUE(send(d));
  EXPECT_EQ(last_->destination.kind, Kind::kBroadcast);
}

TEST_F(ServerTest, RequestForAnotherServerReleasesOurOffer) {
  Client a;
  auto offer = send(a.discover());
  ASSERT_TRUE(offer);
  EXPECT_FALSE(send(a.select(ip("192.0.2.2"), offer->yiaddr)));
  EXPECT_EQ(server_->stats().drops(DropReason::kNotForUs), 1u);
  // The address is free again: a client asking for it by INIT-REBOOT gets it.
  Client b;
  b.hw = mac("52:54:00:00:00:02");
  auto ack = send(b.initReboot(offer->yiaddr));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
}

TEST_F(ServerTest, OfferIsHeldForItsClient) {
  Client a;
  auto offer = send(a.discover());
  ASSERT_TRUE(offer);
  Client b;
  b.hw = mac("52:54:00:00:00:02");
  auto nak = send(b.initReboot(offer->yiaddr));
  ASSERT_TRUE(nak);
  EXPECT_EQ(nak->messageType(), MessageType::kNak);
  now_ += 61;  // hold over
  auto ack = send(b.initReboot(offer->yiaddr));
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
}

TEST_F(ServerTest, SelectingWithoutRequestedIpIsDropped) {
  Client c;
  Message m = c.base(MessageType::kRequest);
  m.setIpv4(opt::kServerId, ip("192.0.2.1"));
  EXPECT_FALSE(send(m));
  EXPECT_EQ(server_->stats().drops(DropReason::kBadRequest), 1u);
}

// ---- RENEWING / REBINDING ----

TEST_F(ServerTest, RenewIsUnicastToCiaddrAndExtendsLease) {
  Client c;
  const Ipv4 a = dora(c);
  events_.clear();
  now_ += 1800;
  auto ack = send(c.renew(a), RxInfo{.broadcast = false});
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
  EXPECT_EQ(ack->yiaddr, a);
  EXPECT_EQ(ack->ciaddr, a);
  EXPECT_EQ(last_->destination.kind, Kind::kUnicast);
  EXPECT_EQ(last_->destination.ip, a);
  EXPECT_EQ(store_.TEST_leases().at(a).expiry, now_ + 3600);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, LeaseEvent::Kind::kRenewed);
}

TEST_F(ServerTest, RebindIsAckedToo) {
  Client c;
  const Ipv4 a = dora(c);
  now_ += 3200;
  auto ack = send(c.renew(a), RxInfo{.broadcast = true});
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
}

TEST_F(ServerTest, RenewOfSomeoneElsesAddressIsNakedByBroadcast) {
  Client a;
  const Ipv4 addr = dora(a);
  Client b;
  b.hw = mac("52:54:00:00:00:02");
  auto nak = send(b.renew(addr));
  ASSERT_TRUE(nak);
  EXPECT_EQ(nak->messageType(), MessageType::kNak);
  EXPECT_EQ(nak->yiaddr, Ipv4());
  EXPECT_FALSE(nak->options.has(opt::kLeaseTime));
  EXPECT_TRUE(nak->options.has(opt::kMessage));
  EXPECT_EQ(last_->destination.kind, Kind::kBroadcast);  // RFC 2131 §4.1
  EXPECT_EQ(server_->stats().naks, 1u);
}

TEST_F(ServerTest, RenewAfterLostDatabaseRestoresLease) {
  Client c;
  // The client holds 192.0.2.150 from before; the server knows nothing.
  auto ack = send(c.renew(ip("192.0.2.150")));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
  EXPECT_EQ(store_.TEST_leases().count(ip("192.0.2.150")), 1u);
}

// ---- INIT-REBOOT ----

TEST_F(ServerTest, InitRebootWrongSubnetIsNaked) {
  Client c;
  auto nak = send(c.initReboot(ip("10.0.0.5")));
  ASSERT_TRUE(nak);
  EXPECT_EQ(nak->messageType(), MessageType::kNak);
  EXPECT_EQ(last_->destination.kind, Kind::kBroadcast);
}

TEST_F(ServerTest, InitRebootOwnAddressIsAcked) {
  Client c;
  const Ipv4 a = dora(c);
  auto ack = send(c.initReboot(a));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
  EXPECT_EQ(ack->yiaddr, a);
}

TEST_F(ServerTest, InitRebootOutsidePoolIsNaked) {
  Client c;
  auto nak = send(c.initReboot(ip("192.0.2.50")));
  EXPECT_EQ(nak->messageType(), MessageType::kNak);
  auto nak2 = send(c.initReboot(ip("192.0.2.1")));  // the server's own address
  EXPECT_EQ(nak2->messageType(), MessageType::kNak);
}

TEST_F(ServerTest, RequestWithNothingIsDropped) {
  Client c;
  EXPECT_FALSE(send(c.base(MessageType::kRequest)));
  EXPECT_EQ(server_->stats().drops(DropReason::kBadRequest), 1u);
}

// ---- DECLINE / RELEASE / INFORM ----

TEST_F(ServerTest, DeclineQuarantinesAddress) {
  Client a;
  const Ipv4 addr = dora(a);
  events_.clear();
  EXPECT_FALSE(send(a.decline(ip("192.0.2.1"), addr)));
  EXPECT_EQ(server_->stats().declines, 1u);
  EXPECT_EQ(store_.TEST_leases().at(addr).state, LeaseState::kDeclined);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, LeaseEvent::Kind::kDeclined);
  // Nobody gets it during the quarantine, not even the same client.
  auto offer = send(a.discover());
  ASSERT_TRUE(offer);
  EXPECT_NE(offer->yiaddr, addr);
  Client b;
  b.hw = mac("52:54:00:00:00:02");
  EXPECT_EQ(send(b.initReboot(addr))->messageType(), MessageType::kNak);
  // After 10 minutes the address is usable again.
  now_ += 601;
  EXPECT_EQ(send(b.initReboot(addr))->messageType(), MessageType::kAck);
}

TEST_F(ServerTest, DeclineOfAddressNotHeldIsDropped) {
  Client a;
  EXPECT_FALSE(send(a.decline(ip("192.0.2.1"), ip("192.0.2.120"))));
  EXPECT_EQ(server_->stats().drops(DropReason::kUnknownLease), 1u);
}

TEST_F(ServerTest, ReleaseFreesLease) {
  Client a;
  const Ipv4 addr = dora(a);
  events_.clear();
  EXPECT_FALSE(send(a.release(ip("192.0.2.1"), addr)));
  EXPECT_TRUE(store_.TEST_leases().empty());
  EXPECT_EQ(server_->stats().releases, 1u);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, LeaseEvent::Kind::kReleased);
  EXPECT_TRUE(server_->leases().empty());
  // Releasing somebody else's address does nothing.
  Client b;
  b.hw = mac("52:54:00:00:00:02");
  const Ipv4 baddr = dora(b);
  EXPECT_FALSE(send(a.release(ip("192.0.2.1"), baddr)));
  EXPECT_EQ(server_->stats().drops(DropReason::kUnknownLease), 1u);
  EXPECT_EQ(store_.TEST_leases().size(), 1u);
}

TEST_F(ServerTest, InformGetsAckWithoutLease) {
  Client c;
  auto ack = send(c.inform(ip("192.0.2.50")));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
  EXPECT_EQ(ack->yiaddr, Ipv4());
  EXPECT_EQ(ack->ciaddr, ip("192.0.2.50"));
  EXPECT_FALSE(ack->options.has(opt::kLeaseTime));
  EXPECT_FALSE(ack->options.has(opt::kRenewalTime));
  EXPECT_TRUE(ack->options.has(opt::kDnsServers));
  EXPECT_EQ(last_->destination.kind, Kind::kUnicast);
  EXPECT_EQ(last_->destination.ip, ip("192.0.2.50"));
  EXPECT_TRUE(store_.TEST_leases().empty());
}

// ---- allocation ----

TEST_F(ServerTest, AddressIsStableAcrossLostDatabase) {
  Client c;
  c.hw = mac("52:54:00:9a:bc:de");
  const Ipv4 first = dora(c);
  // New server, empty store: the same client gets the same address.
  MemoryLeaseStore fresh;
  auto s = Server::create(basicConfig(), fresh, [this] { return now_; });
  ASSERT_TRUE(s.ok());
  auto offer = parse((*s)->handle(serialize(c.discover()))->bytes);
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(offer->yiaddr, first);
}

TEST_F(ServerTest, DifferentClientsGetDifferentAddresses) {
  std::vector<Ipv4> got;
  for (int i = 0; i < 20; ++i) {
    Client c;
    c.hw = Mac({0x52, 0x54, 0, 0, 1, uint8_t(i)});
    got.push_back(dora(c));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end());
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), inPool));
}

TEST_F(ServerTest, ClientIdTakesPrecedenceOverMac) {
  Client a;
  a.client_id = {0xff, 1, 2, 3, 4};
  Client b = a;
  b.client_id = {0xff, 9, 9, 9, 9};  // same MAC, another identity
  const Ipv4 aa = dora(a);
  const Ipv4 bb = dora(b);
  EXPECT_NE(aa, bb);
  auto offer = send(a.discover());
  EXPECT_EQ(offer->yiaddr, aa);
  // RFC 6842: the client identifier is echoed.
  EXPECT_EQ(offer->clientId()->size(), 5u);
}

TEST_F(ServerTest, RequestedAddressIsHonouredWhenFree) {
  Client c;
  Message d = c.discover();
  d.setIpv4(opt::kRequestedIp, ip("192.0.2.177"));
  EXPECT_EQ(send(d)->yiaddr, ip("192.0.2.177"));
}

TEST_F(ServerTest, StaticHostGetsReservedAddressAndNobodyElseDoes) {
  ServerConfig cfg = basicConfig();
  StaticHost h;
  h.mac = mac("52:54:00:00:00:aa");
  h.ip = ip("192.0.2.150");  // inside the pool: reserved anyway
  h.hostname = "fixed";
  h.lease_seconds = 0;  // infinite
  cfg.hosts.push_back(h);
  StaticHost h2;
  h2.client_id = {0xff, 0xab};
  h2.ip = ip("192.0.2.20");  // outside the pool
  cfg.hosts.push_back(h2);
  start(cfg);

  Client s;
  s.hw = *h.mac;
  auto offer = send(s.discover());
  ASSERT_TRUE(offer);
  EXPECT_EQ(offer->yiaddr, ip("192.0.2.150"));
  EXPECT_EQ(offer->hostname(), "fixed");
  EXPECT_EQ(offer->leaseTime(), 0xffffffffu);
  EXPECT_FALSE(offer->options.has(opt::kRenewalTime));
  auto ack = send(s.select(ip("192.0.2.1"), offer->yiaddr));
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
  EXPECT_EQ(store_.TEST_leases().at(ip("192.0.2.150")).expiry, 0);
  // The static host may not take another address.
  EXPECT_EQ(send(s.initReboot(ip("192.0.2.160")))->messageType(), MessageType::kNak);

  Client by_id;
  by_id.hw = mac("52:54:00:00:00:bb");
  by_id.client_id = {0xff, 0xab};
  EXPECT_EQ(send(by_id.discover())->yiaddr, ip("192.0.2.20"));

  // Another client asking for the reserved addresses gets something else / a NAK.
  Client other;
  other.hw = mac("52:54:00:00:00:cc");
  Message d = other.discover();
  d.setIpv4(opt::kRequestedIp, ip("192.0.2.150"));
  EXPECT_NE(send(d)->yiaddr, ip("192.0.2.150"));
  EXPECT_EQ(send(other.initReboot(ip("192.0.2.150")))->messageType(), MessageType::kNak);
}

TEST_F(ServerTest, StaticAddressNeverHashedToOthers) {
  ServerConfig cfg = basicConfig();
  cfg.ranges = {{ip("192.0.2.100"), ip("192.0.2.102")}};
  StaticHost h;
  h.mac = mac("52:54:00:00:00:aa");
  h.ip = ip("192.0.2.101");
  cfg.hosts.push_back(h);
  start(cfg);
  for (int i = 0; i < 3; ++i) {
    Client c;
    c.hw = Mac({0x52, 0x54, 0, 0, 2, uint8_t(i)});
    auto offer = send(c.discover());
    if (i < 2) {
      ASSERT_TRUE(offer);
      EXPECT_NE(offer->yiaddr, ip("192.0.2.101"));
      send(c.select(ip("192.0.2.1"), offer->yiaddr));
    } else {
      EXPECT_FALSE(offer);
    }
  }
}

TEST_F(ServerTest, PoolExhaustionIsCountedAndSilent) {
  ServerConfig cfg = basicConfig();
  cfg.ranges = {{ip("192.0.2.100"), ip("192.0.2.101")}};
  start(cfg);
  for (int i = 0; i < 2; ++i) {
    Client c;
    c.hw = Mac({0x52, 0x54, 0, 0, 3, uint8_t(i)});
    ASSERT_NE(dora(c), Ipv4());
  }
  Client late;
  late.hw = mac("52:54:00:00:03:99");
  EXPECT_FALSE(send(late.discover()));
  EXPECT_EQ(server_->stats().pool_exhausted, 1u);
  // Once a lease expires (lazily reclaimed), the pool has room again.
  now_ += 3601;
  EXPECT_TRUE(send(late.discover()));
}

// Regression (fuzz): re-DISCOVER after the offer hold ran out reclaimed the offer while its
// by-client entry was still in use.
TEST_F(ServerTest, RediscoverAfterOfferExpired) {
  Client a;
  auto first = send(a.discover());
  ASSERT_TRUE(first);
  now_ += 3600;
  auto second = send(a.discover());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->yiaddr, first->yiaddr);  // the hash start point is stable
}

TEST_F(ServerTest, ExpireReclaimsAndEmits) {
  Client a;
  const Ipv4 addr = dora(a);
  events_.clear();
  EXPECT_EQ(server_->expire(now_ + 100), 0u);
  EXPECT_EQ(server_->expire(now_ + 3600), 1u);
  ASSERT_TRUE(server_->commit().ok());
  EXPECT_TRUE(store_.TEST_leases().empty());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, LeaseEvent::Kind::kExpired);
  EXPECT_EQ(events_[0].lease.ip, addr);
  EXPECT_EQ(server_->stats().expired, 1u);
}

TEST_F(ServerTest, LeasesReloadFromStore) {
  Client a;
  a.hostname = "keep";
  const Ipv4 addr = dora(a);
  start(basicConfig());  // same store
  auto leases = server_->leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].ip, addr);
  EXPECT_EQ(leases[0].hostname, "keep");
  // The lease is still the client's: another client cannot take it.
  Client b;
  b.hw = mac("52:54:00:00:00:02");
  EXPECT_EQ(send(b.initReboot(addr))->messageType(), MessageType::kNak);
  EXPECT_EQ(send(a.renew(addr))->messageType(), MessageType::kAck);
}

TEST_F(ServerTest, FailedCommitWithholdsStateAndEvents) {
  Client a;
  auto offer = send(a.discover());
  store_.TEST_failNextCommit();
  last_ = server_->handle(serialize(a.select(ip("192.0.2.1"), offer->yiaddr)));
  ASSERT_TRUE(last_ && last_->requires_commit);
  EXPECT_FALSE(server_->commit().ok());
  EXPECT_EQ(server_->stats().commit_failures, 1u);
  EXPECT_TRUE(events_.empty());
  EXPECT_TRUE(server_->leases().empty());
  // The client retransmits and gets it.
  EXPECT_EQ(send(a.select(ip("192.0.2.1"), offer->yiaddr))->messageType(), MessageType::kAck);
  EXPECT_EQ(store_.TEST_leases().size(), 1u);
}

TEST_F(ServerTest, ReconfigureShrinkingPoolNaksOldLeaseOnRenew) {
  Client a;
  const Ipv4 addr = dora(a);
  ServerConfig cfg = basicConfig();
  cfg.ranges = {{ip("192.0.2.10"), ip("192.0.2.20")}};
  ASSERT_TRUE(server_->reconfigure(cfg).ok());
  EXPECT_EQ(send(a.renew(addr))->messageType(), MessageType::kNak);
  auto offer = send(a.discover());
  ASSERT_TRUE(offer);
  EXPECT_LE(offer->yiaddr, ip("192.0.2.20"));
}

TEST_F(ServerTest, InvalidConfigRejected) {
  ServerConfig cfg = basicConfig();
  cfg.ranges.push_back({ip("10.0.0.1"), ip("10.0.0.9")});
  auto s = server_->reconfigure(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("ranges[1]"), std::string::npos);
  cfg = basicConfig();
  cfg.ranges.push_back({ip("192.0.2.150"), ip("192.0.2.210")});
  EXPECT_FALSE(cfg.validate().ok());  // overlap
  cfg = basicConfig();
  cfg.server_address = ip("192.0.2.255");
  EXPECT_FALSE(cfg.validate().ok());
}

// ---- options ----

TEST_F(ServerTest, ParameterRequestListLimitsOptions) {
  Client c;
  Message d = c.discover();
  const uint8_t prl[] = {opt::kSubnetMask, opt::kDnsServers};
  d.options.set(opt::kParameterRequestList, prl);
  auto offer = send(d);
  ASSERT_TRUE(offer);
  EXPECT_TRUE(offer->options.has(opt::kDnsServers));
  EXPECT_FALSE(offer->options.has(opt::kRouter));
  EXPECT_FALSE(offer->options.has(opt::kDomainName));
  // Always sent (RFC 2131 §4.3.1 Table 3).
  EXPECT_TRUE(offer->options.has(opt::kMessageType));
  EXPECT_TRUE(offer->options.has(opt::kServerId));
  EXPECT_TRUE(offer->options.has(opt::kLeaseTime));
}

TEST_F(ServerTest, IsolatedNetworkHasNoRouter) {
  ServerConfig cfg = basicConfig();
  cfg.routers.clear();
  start(cfg);
  Client c;
  auto offer = send(c.discover());
  ASSERT_TRUE(offer);
  EXPECT_FALSE(offer->options.has(opt::kRouter));
}

TEST_F(ServerTest, MtuBootAndClasslessRoutes) {
  ServerConfig cfg = basicConfig();
  cfg.mtu = 1400;
  cfg.boot_file = "pxelinux.0";
  cfg.next_server = ip("192.0.2.5");
  cfg.classless_routes = {{ip("198.51.100.0"), 24, ip("192.0.2.254")}};
  start(cfg);
  Client c;
  Message d = c.discover();
  const uint8_t prl[] = {opt::kSubnetMask, opt::kRouter, opt::kInterfaceMtu, opt::kClasslessRoutes};
  d.options.set(opt::kParameterRequestList, prl);
  auto offer = send(d);
  ASSERT_TRUE(offer);
  auto mtu = offer->options.get(opt::kInterfaceMtu);
  ASSERT_TRUE(mtu);
  EXPECT_EQ((*mtu)[0] << 8 | (*mtu)[1], 1400);
  EXPECT_EQ(offer->siaddr, ip("192.0.2.5"));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(offer->file.data())), "pxelinux.0");
  auto routes = offer->options.get(opt::kClasslessRoutes);
  ASSERT_TRUE(routes);
  // RFC 3442: 24 198.51.100 -> 192.0.2.254, then the default route 0 -> 192.0.2.1.
  const std::vector<uint8_t> want = {24, 198, 51, 100, 192, 0, 2, 254, 0, 192, 0, 2, 1};
  EXPECT_EQ(std::vector<uint8_t>(routes->begin(), routes->end()), want);
}

TEST_F(ServerTest, MaxMessageSizeIsHonoured) {
  ServerConfig cfg = basicConfig();
  for (int i = 0; i < 60; ++i) cfg.dns_servers.push_back(Ipv4(0xC6336400u + uint32_t(i)));
  cfg.domain_name = std::string(200, 'd');
  start(cfg);
  Client c;
  auto small = send(c.discover());  // no option 57: 576
  ASSERT_TRUE(small);
  EXPECT_LE(last_->bytes.size(), 548u);
  EXPECT_TRUE(small->options.has(opt::kLeaseTime));
  EXPECT_TRUE(small->options.has(opt::kDnsServers));   // 246 bytes fit
  EXPECT_FALSE(small->options.has(opt::kDomainName));  // 202 more bytes do not
  Message d = c.discover();
  d.setU16(opt::kMaxMessageSize, 1500);
  auto big = send(d);
  EXPECT_GT(last_->bytes.size(), 548u);
  EXPECT_TRUE(big->options.has(opt::kDnsServers));
  EXPECT_TRUE(big->options.has(opt::kDomainName));
}

TEST_F(ServerTest, HostnameIsSanitised) {
  Client c;
  c.hostname = "bad name;rm";
  dora(c);
  EXPECT_EQ(store_.TEST_leases().begin()->second.hostname, "");
}

// ---- drops ----

TEST_F(ServerTest, NonRequestsAreDroppedAndCounted) {
  Client c;
  Message reply = c.discover();
  reply.op = kBootReply;
  EXPECT_FALSE(send(reply));
  EXPECT_EQ(server_->stats().drops(DropReason::kWrongOp), 1u);

  Message bootp = c.discover();
  bootp.options.erase(opt::kMessageType);
  EXPECT_FALSE(send(bootp));
  EXPECT_EQ(server_->stats().drops(DropReason::kNoMessageType), 1u);

  Message relayed = c.discover();
  relayed.giaddr = ip("198.51.100.1");
  EXPECT_FALSE(send(relayed));
  EXPECT_EQ(server_->stats().drops(DropReason::kRelayed), 1u);

  EXPECT_FALSE(send(c.base(MessageType::kOffer)));
  EXPECT_EQ(server_->stats().drops(DropReason::kUnexpectedType), 1u);
}

class ServerMalformed : public ServerTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(ServerMalformed, DroppedAndCounted) {
  EXPECT_FALSE(server_->handle(GetParam().bytes));
  EXPECT_EQ(server_->stats().drops(DropReason::kMalformed), 1u);
  EXPECT_EQ(server_->stats().received[0], 1u);
  EXPECT_FALSE(store_.hasStaged());
}

INSTANTIATE_TEST_SUITE_P(Table, ServerMalformed, ::testing::ValuesIn(badInputs()),
                         [](const auto& p) { return std::string(p.param.name); });

// ---- real client packets (tests/golden/dhcp/packets) ----

TEST_F(ServerTest, RealUdhcpcExchange) {
  auto offer_reply = server_->handle(readFile(goldenPath("01-udhcpc-discover.bin")));
  ASSERT_TRUE(offer_reply);
  auto offer = parse(offer_reply->bytes);
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(offer->messageType(), MessageType::kOffer);
  // udhcpc asks for 1,3,6,12,15,28,42 and allows 576 bytes.
  EXPECT_TRUE(offer->options.has(opt::kBroadcastAddress));
  EXPECT_LE(offer_reply->bytes.size(), 548u);
  // The captured REQUEST selects 192.0.2.148 from server 192.0.2.1 (busybox udhcpd then).
  auto ack_reply = server_->handle(readFile(goldenPath("02-udhcpc-request.bin")));
  ASSERT_TRUE(ack_reply);
  ASSERT_TRUE(server_->commit().ok());
  auto ack = parse(ack_reply->bytes);
  EXPECT_EQ(ack->messageType(), MessageType::kAck);
  EXPECT_EQ(ack->yiaddr, ip("192.0.2.148"));
  EXPECT_EQ(store_.TEST_leases().at(ip("192.0.2.148")).hostname, "bbguest");
}

TEST_F(ServerTest, RealDhclientInitRebootAndRelease) {
  auto r = server_->handle(readFile(goldenPath("05-dhclient-request-initreboot.bin")));
  ASSERT_TRUE(r);
  ASSERT_TRUE(server_->commit().ok());
  EXPECT_EQ(parse(r->bytes)->messageType(), MessageType::kAck);
  EXPECT_EQ(server_->leases().size(), 1u);
  EXPECT_FALSE(server_->handle(readFile(goldenPath("06-dhclient-release.bin"))));
  ASSERT_TRUE(server_->commit().ok());
  EXPECT_TRUE(server_->leases().empty());
  EXPECT_EQ(server_->stats().releases, 1u);
}

}  // namespace
}  // namespace vnet::dhcp

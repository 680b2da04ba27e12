// The local zone: names the DNS service answers itself (static hosts, DHCP leases, SRV and
// TXT records, reverse names of owned subnets), and the decision for everything else.
//
// Naming rule (dnsmasq's expand-hosts, which libvirt enables): a configured or dynamic name
// without a dot answers both as "name" and as "name.DOMAIN"; a name with dots answers only
// as given.
//
// Not thread-safe; used from the server's single event-loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "dns/message.h"
#include "dns/name.h"

namespace vnet::dns {

struct StaticHost {
  IpAddress ip;
  std::vector<std::string> names;
};

// An SRV record for "_service._protocol.domain" (libvirt <srv>); an empty domain means the
// zone's domain.
struct SrvRecord {
  std::string service;   // without the leading '_'
  std::string protocol;  // "tcp" or "udp", without the leading '_'
  std::string domain;
  std::string target;  // "." means "service not available" (RFC 2782)
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
};

struct TxtRecord {
  std::string name;
  std::string value;  // split into 255-octet character-strings on the wire
};

struct ZoneConfig {
  std::string domain;  // may be empty
  // Names under `domain` that are not found locally get an authoritative NXDOMAIN instead
  // of being forwarded (libvirt <domain localOnly='yes'>, dnsmasq local=/domain/).
  bool localOnly = false;
  // Further domains answered only locally (libvirt <forwarder domain='x'/> without addr).
  std::vector<std::string> localDomains;
  // When false, names without a dot are never forwarded (dnsmasq domain-needed): a
  // dot-less name that is not local gets NXDOMAIN, as dnsmasq has always answered.
  bool forwardPlainNames = true;
  std::vector<StaticHost> hosts;
  std::vector<SrvRecord> srvs;
  std::vector<TxtRecord> txts;
  // Subnets whose reverse names (in-addr.arpa / ip6.arpa) we own: PTR names in them that
  // are not local get an authoritative NXDOMAIN instead of being forwarded (localPtr).
  std::vector<Cidr> reverseZones;
  // Clients allowed to query; an empty list allows every client.
  std::vector<Cidr> allowedClients;
  // TTL of local answers and of the SOA MINIMUM in local negative answers (dnsmasq's
  // local-ttl, 0 by default, so that lease changes are seen at once).
  uint32_t localTtl = 0;
};

// A record of the local zone with its rdata pre-encoded (uncompressed), so that answers
// are a copy of bytes.
struct LocalRecord {
  RrType type = RrType::A;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;
};

// An SOA to put in the authority section of local negative answers (RFC 2308 §3).
struct LocalSoa {
  Name owner;
  LocalRecord record;
};

enum class ZoneVerdict {
  Answer,    // records holds the RRset of the asked type
  NoData,    // the name exists locally but has no record of that type
  NxDomain,  // authoritative: the name does not exist
  Forward,   // not ours: forward (or refuse if forwarding is off)
};

struct ZoneAnswer {
  ZoneVerdict verdict = ZoneVerdict::Forward;
  // For Answer: the records of the name (filter by type when writing). For NoData this
  // may be null or the name's other records.
  const std::vector<LocalRecord>* records = nullptr;
  // The SOA for negative answers inside a zone we are authoritative for, or null.
  const LocalSoa* soa = nullptr;
  // True when the answer comes from a zone we own (domain, local domains, reverse zones):
  // such replies carry AA.
  bool authoritative = false;
};

class Zone {
 public:
  Zone() = default;

  // Validates cfg and replaces the configuration; dynamic hosts are kept. On error the
  // zone is unchanged.
  Status configure(const ZoneConfig& cfg);
  const ZoneConfig& config() const { return config_; }

  // From DHCP leases. name is the client's host name: a single label, or a name under the
  // zone's domain (its domain part is dropped). Names are checked against RFC 1123 host
  // name syntax (they come from guests). A name that a static host already has is ignored
  // for A answers (static wins). Setting the same value again is cheap.
  Status setDynamicHost(std::string_view name, Ipv4 ip);
  void removeDynamicHost(std::string_view name);
  void clearDynamicHosts();

  // REQUIRES: qname is the question name; qtype its type (ANY: Answer when the name exists
  // with any record, records then holds all of them).
  ZoneAnswer lookup(const Name& qname, RrType qtype) const;

  // Changes with every change of the zone's contents (configure, dynamic hosts added,
  // changed or removed): answers derived under one generation are not reused under another.
  uint64_t generation() const { return generation_; }

  // True when client may query (allowedClients empty or containing it).
  bool clientAllowed(const IpAddress& client) const;

  // True when qname is a single label (forwardPlainNames applies).
  static bool isPlainName(const Name& qname) { return qname.labelCount() == 1; }

 private:
  struct OwnedZone {
    Name apex;
    LocalSoa soa;
  };
  struct ReverseZone {
    Cidr subnet;
    LocalSoa soa;
  };

  void rebuild() const;
  void addRecord(const Name& n, RrType type, std::vector<uint8_t> rdata) const;
  void addHost(const Name& n, const IpAddress& ip, bool withPtr) const;

  ZoneConfig config_;
  // Parsed from config_ (validated in configure()).
  struct Parsed {
    struct HostName {
      Name name;
      IpAddress ip;
      bool ptr = false;  // this name is the target of the address's PTR record
    };
    std::vector<HostName> hostNames;
    std::vector<std::pair<Name, Srv>> srvs;
    std::vector<std::pair<Name, Txt>> txts;
    std::vector<OwnedZone> owned;  // [0] is the domain when set
    std::vector<ReverseZone> reverse;
    bool hasDomain = false;
    Name domain;
  } parsed_;
  // Dynamic names (single labels, lowered) to addresses.
  std::unordered_map<Name, Ipv4, NameHash> dynamic_;

  uint64_t generation_ = 0;
  // Derived lookup table, rebuilt lazily after any change.
  mutable bool dirty_ = true;
  mutable std::unordered_map<Name, std::vector<LocalRecord>, NameHash> names_;
};

// The reverse-lookup name of an address ("1.122.168.192.in-addr.arpa", nibble form under
// ip6.arpa for IPv6; RFC 1035 §3.5, RFC 3596 §2.5).
Name reverseName(const IpAddress& ip);

// Parses a reverse name: the address (missing low-order parts zero) and how many leading
// bits the name fixes (8 per in-addr.arpa label, 4 per ip6.arpa label). False when qname
// is not a well-formed reverse name.
bool parseReverseName(const Name& qname, IpAddress& address, int& prefixBits);

}  // namespace vnet::dns

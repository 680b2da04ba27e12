// DNS wire codec (RFC 1035 §4, RFC 6891 for EDNS0).
//
// Two ways in:
//  - parseMessage / serializeMessage: a full typed Message (records as values), with name
//    compression on write. Used where clarity matters more than speed (tests, building
//    upstream queries, the fuzzer).
//  - scanMessage: one validating pass over a message that records where things are
//    (question, TTL fields, OPT record, negative-caching TTL) without building records.
//    The resolver's per-query path uses this.
//
// Both treat their input as hostile: every length is checked against what remains, names
// are bounded (see name.h), and a failure is an Error value, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "dns/name.h"

namespace vnet::dns {

inline constexpr size_t kHeaderSize = 12;
// RFC 1035 §4.2.1: without EDNS0, UDP messages are at most 512 octets.
inline constexpr size_t kClassicUdpSize = 512;
inline constexpr size_t kMaxMessageSize = 65535;

enum class RrType : uint16_t {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  HINFO = 13,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  SRV = 33,
  OPT = 41,
  IXFR = 251,
  AXFR = 252,
  ANY = 255,
};

inline constexpr uint16_t kClassIn = 1;

enum class Opcode : uint8_t { Query = 0, IQuery = 1, Status = 2, Notify = 4, Update = 5 };

enum class Rcode : uint16_t {
  NoError = 0,
  FormErr = 1,
  ServFail = 2,
  NxDomain = 3,
  NotImp = 4,
  Refused = 5,
  BadVers = 16,  // extended (RFC 6891 §6.1.3): needs an OPT record to carry the upper bits
};

// Text for types we know ("A", "AAAA", ...) or "TYPE<n>" (RFC 3597 §5).
std::string typeName(RrType t);

struct Header {
  uint16_t id = 0;
  bool qr = false;
  uint8_t opcode = 0;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool ad = false;
  bool cd = false;
  uint8_t rcode = 0;  // the low 4 bits; extended bits live in the OPT record

  uint16_t flags() const;
  static Header fromFlags(uint16_t id, uint16_t flags);
};

struct Question {
  Name name;
  RrType type = RrType::A;
  uint16_t qclass = kClassIn;
};

struct Soa {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
};

struct Srv {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  Name target;
};

struct Mx {
  uint16_t preference = 0;
  Name exchange;
};

// One or more <character-string>s (RFC 1035 §3.3.14), each at most 255 octets.
struct Txt {
  std::vector<std::string> strings;
};

struct Hinfo {
  std::string cpu;
  std::string os;
};

// Rdata of a type this codec does not interpret, kept verbatim (RFC 3597).
struct Opaque {
  std::vector<uint8_t> bytes;
};

// NS, CNAME and PTR carry a Name; A an Ipv4; AAAA an Ipv6.
using Rdata = std::variant<Ipv4, Ipv6, Name, Soa, Srv, Mx, Txt, Hinfo, Opaque>;

struct ResourceRecord {
  Name name;
  RrType type = RrType::A;
  uint16_t rclass = kClassIn;
  uint32_t ttl = 0;
  Rdata data;
};

struct EdnsOption {
  uint16_t code = 0;
  std::vector<uint8_t> data;
};

// The OPT pseudo-record (RFC 6891 §6.1.2), kept apart from the additional section.
struct Edns {
  uint16_t udpSize = 1232;
  uint8_t extendedRcode = 0;  // upper 8 bits of the 12-bit rcode
  uint8_t version = 0;
  bool dnssecOk = false;  // DO bit (RFC 3225)
  std::vector<EdnsOption> options;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;  // without OPT
  std::optional<Edns> edns;

  // The full 12-bit rcode (header bits plus EDNS extended bits).
  Rcode rcode() const;
  void setRcode(Rcode rc);
};

// Parses a whole message. Fails on truncation, trailing garbage, bad names, rdata whose
// length disagrees with its contents, more than one OPT record or an OPT outside the
// additional section or not owned by the root (RFC 6891 §6.1.1).
Result<Message> parseMessage(std::span<const uint8_t> wire);

// Encodes m, compressing owner names and the names inside NS, CNAME, PTR, SOA and MX rdata
// (RFC 1035 §4.1.4; RFC 3597 §4 forbids compressing newer types such as SRV).
// When the result would exceed maxSize, records are dropped from the end; if any answer
// or authority record had to go, TC is set (RFC 2181 §9). The OPT record is always kept.
// Fails only when the header, question and OPT alone do not fit or a rdata is unencodable.
Result<std::vector<uint8_t>> serializeMessage(const Message& m, size_t maxSize = kMaxMessageSize);

// Builds the rdata bytes (uncompressed) for a typed value.
Result<std::vector<uint8_t>> encodeRdata(RrType type, const Rdata& data);

// What scanMessage found: offsets are into the scanned buffer.
struct MessageLayout {
  Header header;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;
  // The first question (qdcount >= 1), and where the question section ends.
  bool hasQuestion = false;
  Question question;
  size_t questionEnd = kHeaderSize;

  // The OPT record, if any: its offset, size, and whether it is the last record.
  bool hasEdns = false;
  uint16_t ednsUdpSize = 0;
  uint8_t ednsExtendedRcode = 0;
  uint8_t ednsVersion = 0;
  bool dnssecOk = false;
  size_t optOffset = 0;
  size_t optSize = 0;
  bool optIsLast = false;

  // The TTL field offsets of every record but OPT, in message order.
  std::vector<uint32_t> ttlOffsets;
  // Smallest TTL among answer records (0 when there are none).
  uint32_t minAnswerTtl = 0;
  // RFC 2308 §5: when the authority section holds an SOA, min(SOA TTL, SOA MINIMUM), and
  // the offset of that SOA's TTL field.
  std::optional<uint32_t> negativeTtl;
  size_t soaTtlOffset = 0;

  // The full 12-bit rcode.
  uint16_t rcode() const { return uint16_t(header.rcode | (uint16_t(ednsExtendedRcode) << 4)); }
};

// One pass over wire that checks every record's framing and owner name (rdata contents are
// not decoded, except SOA in the authority section) and fills a MessageLayout. With
// collectTtls false, ttlOffsets is left empty (queries need no TTLs).
Result<MessageLayout> scanMessage(std::span<const uint8_t> wire, bool collectTtls = true);

// Whether every name in a message that scanMessage (with TTLs) laid out reads the same
// whatever values its TTL fields and its OPT CLASS hold: the question, record owners, and
// the names inside NS, CNAME, PTR, SOA, MX and SRV rdata. False when one of them reads an
// octet of those fields as a label length or pointer (RFC 1035 §4.1.4 has pointers address
// earlier names; a crafted message may point anywhere before), or does not read at all.
// Only a message for which this holds may have those fields rewritten (cached answers).
bool namesSurviveFieldRewrite(std::span<const uint8_t> wire, const MessageLayout& layout);

// Writes a name uncompressed.
void writeName(ByteWriter& w, const Name& n);

// Appends an OPT record without options (RFC 6891 §6.1.2) advertising udpSize, with the DO
// bit and the upper 8 bits of a 12-bit rcode. The caller counts it in ARCOUNT.
void appendOptRecord(std::vector<uint8_t>& out, uint16_t udpSize, bool dnssecOk, uint16_t rcode);

}  // namespace vnet::dns

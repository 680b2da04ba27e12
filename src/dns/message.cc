#include "dns/message.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/bytes.h"

namespace vnet::dns {

namespace {

// RFC 2181 §8: a TTL with the top bit set is treated as zero.
uint32_t sanitizeTtl(uint32_t ttl) {
  return (ttl & 0x80000000u) ? 0 : ttl;
}

Status putCharString(std::vector<uint8_t>& b, std::string_view s) {
  if (s.size() > 255) return Error::invalid("character-string longer than 255 octets");
  b.push_back(uint8_t(s.size()));
  b.insert(b.end(), s.begin(), s.end());
  return Status::success();
}

// Name writer with RFC 1035 §4.1.4 compression. Remembers where each written suffix
// starts; the spans point into Names owned by the message being serialized.
class Compressor {
 public:
  void write(std::vector<uint8_t>& out, const Name& n, bool compress) {
    const std::span<const uint8_t> wire = n.wire();
    size_t pos = 0;
    while (wire[pos] != 0) {
      const std::span<const uint8_t> suffix = wire.subspan(pos);
      if (compress) {
        for (const auto& e : entries_) {
          if (wireNamesEqual(e.suffix, suffix)) {
            appendU16(out, uint16_t(0xC000 | e.offset));
            return;
          }
        }
      }
      // Pointers hold 14 bits of offset.
      if (out.size() < 0x4000) entries_.push_back({uint16_t(out.size()), suffix});
      const size_t len = 1 + size_t(wire[pos]);
      out.insert(out.end(), wire.begin() + pos, wire.begin() + pos + len);
      pos += len;
    }
    out.push_back(0);
  }
  size_t mark() const { return entries_.size(); }
  void rollback(size_t mark) { entries_.resize(mark); }

 private:
  struct Entry {
    uint16_t offset = 0;
    std::span<const uint8_t> suffix;
  };
  std::vector<Entry> entries_;
};

// Appends rdata for (type, data); names are compressed only for the RFC 1035 types.
Status putRdata(std::vector<uint8_t>& out, Compressor* c, RrType type, const Rdata& data) {
  auto name = [&](const Name& n, bool compressible) {
    if (c != nullptr) {
      c->write(out, n, compressible);
    } else {
      out.insert(out.end(), n.wire().begin(), n.wire().end());
    }
  };
  auto mismatch = [&]() {
    return Error::invalid("rdata does not match record type " + typeName(type));
  };
  switch (type) {
    case RrType::A:
      if (auto* a = std::get_if<Ipv4>(&data)) {
        auto b = a->toBytes();
        out.insert(out.end(), b.begin(), b.end());
        return Status::success();
      }
      break;
    case RrType::AAAA:
      if (auto* a = std::get_if<Ipv6>(&data)) {
        out.insert(out.end(), a->bytes().begin(), a->bytes().end());
        return Status::success();
      }
      break;
    case RrType::NS:
    case RrType::CNAME:
    case RrType::PTR:
      if (auto* n = std::get_if<Name>(&data)) {
        name(*n, true);
        return Status::success();
      }
      break;
    case RrType::SOA:
      if (auto* s = std::get_if<Soa>(&data)) {
        name(s->mname, true);
        name(s->rname, true);
        appendU32(out, s->serial);
        appendU32(out, s->refresh);
        appendU32(out, s->retry);
        appendU32(out, s->expire);
        appendU32(out, s->minimum);
        return Status::success();
      }
      break;
    case RrType::MX:
      if (auto* m = std::get_if<Mx>(&data)) {
        appendU16(out, m->preference);
        name(m->exchange, true);
        return Status::success();
      }
      break;
    case RrType::SRV:
      if (auto* s = std::get_if<Srv>(&data)) {
        appendU16(out, s->priority);
        appendU16(out, s->weight);
        appendU16(out, s->port);
        name(s->target, false);  // RFC 2782: the target is not compressed
        return Status::success();
      }
      break;
    case RrType::TXT:
      if (auto* t = std::get_if<Txt>(&data)) {
        for (const auto& s : t->strings) VNET_TRY(putCharString(out, s));
        return Status::success();
      }
      break;
    case RrType::HINFO:
      if (auto* h = std::get_if<Hinfo>(&data)) {
        VNET_TRY(putCharString(out, h->cpu));
        VNET_TRY(putCharString(out, h->os));
        return Status::success();
      }
      break;
    default:
      break;
  }
  if (auto* o = std::get_if<Opaque>(&data)) {
    out.insert(out.end(), o->bytes.begin(), o->bytes.end());
    return Status::success();
  }
  return mismatch();
}

Status putRecord(std::vector<uint8_t>& out, Compressor& c, const ResourceRecord& rr) {
  if (rr.type == RrType::OPT) return Error::invalid("OPT belongs in Message::edns");
  c.write(out, rr.name, true);
  appendU16(out, uint16_t(rr.type));
  appendU16(out, rr.rclass);
  appendU32(out, rr.ttl);
  const size_t lenAt = out.size();
  appendU16(out, 0);
  VNET_TRY(putRdata(out, &c, rr.type, rr.data));
  const size_t len = out.size() - lenAt - 2;
  if (len > 0xFFFF) return Error::invalid("rdata longer than 65535 octets");
  storeU16(out, lenAt, uint16_t(len));
  return Status::success();
}

void putOpt(std::vector<uint8_t>& out, const Edns& e) {
  out.push_back(0);  // owner: root (RFC 6891 §6.1.2)
  appendU16(out, uint16_t(RrType::OPT));
  appendU16(out, e.udpSize);
  out.push_back(e.extendedRcode);
  out.push_back(e.version);
  appendU16(out, e.dnssecOk ? 0x8000 : 0);
  size_t len = 0;
  for (const auto& o : e.options) len += 4 + o.data.size();
  appendU16(out, uint16_t(len));
  for (const auto& o : e.options) {
    appendU16(out, o.code);
    appendU16(out, uint16_t(o.data.size()));
    out.insert(out.end(), o.data.begin(), o.data.end());
  }
}

size_t optSize(const Edns& e) {
  size_t n = 11;
  for (const auto& o : e.options) n += 4 + o.data.size();
  return n;
}

Result<std::string> readCharString(ByteReader& r, size_t end) {
  if (r.pos() >= end) return Error::invalid("truncated character-string");
  const uint8_t len = r.u8();
  if (r.pos() + len > end) return Error::invalid("character-string overruns rdata");
  auto b = r.bytes(len);
  return std::string(b.begin(), b.end());
}

// Decodes one record's rdata. r is positioned at the rdata; names may point anywhere
// before themselves in the message.
Result<Rdata> readRdata(ByteReader& r, RrType type, uint16_t rdlen) {
  const size_t start = r.pos();
  const size_t end = start + rdlen;
  if (r.remaining() < rdlen) return Error::invalid("rdata overruns message");
  auto readName = [&]() -> Result<Name> {
    auto n = Name::read(r);
    if (!n.ok()) return std::move(n).error();
    if (r.pos() > end) return Error::invalid("name overruns rdata");
    return n;
  };
  Rdata out;
  switch (type) {
    case RrType::A:
      if (rdlen != 4) return Error::invalid("A rdata is not 4 octets");
      out = Ipv4::fromBytes(r.bytes(4).data());
      break;
    case RrType::AAAA: {
      if (rdlen != 16) return Error::invalid("AAAA rdata is not 16 octets");
      Ipv6::Bytes b;
      std::memcpy(b.data(), r.bytes(16).data(), 16);
      out = Ipv6(b);
      break;
    }
    case RrType::NS:
    case RrType::CNAME:
    case RrType::PTR: {
      auto n = readName();
      if (!n.ok()) return std::move(n).error();
      out = *n;
      break;
    }
    case RrType::SOA: {
      Soa s;
      auto m = readName();
      if (!m.ok()) return std::move(m).error();
      auto rn = readName();
      if (!rn.ok()) return std::move(rn).error();
      s.mname = *m;
      s.rname = *rn;
      if (end - r.pos() != 20) return Error::invalid("SOA rdata has wrong length");
      s.serial = r.u32();
      s.refresh = r.u32();
      s.retry = r.u32();
      s.expire = r.u32();
      s.minimum = r.u32();
      out = s;
      break;
    }
    case RrType::MX: {
      if (rdlen < 3) return Error::invalid("MX rdata too short");
      Mx m;
      m.preference = r.u16();
      auto n = readName();
      if (!n.ok()) return std::move(n).error();
      m.exchange = *n;
      out = m;
      break;
    }
    case RrType::SRV: {
      if (rdlen < 7) return Error::invalid("SRV rdata too short");
      Srv s;
      s.priority = r.u16();
      s.weight = r.u16();
      s.port = r.u16();
      auto n = readName();
      if (!n.ok()) return std::move(n).error();
      s.target = *n;
      out = s;
      break;
    }
    case RrType::TXT: {
      Txt t;
      while (r.pos() < end) {
        auto s = readCharString(r, end);
        if (!s.ok()) return std::move(s).error();
        t.strings.push_back(std::move(*s));
      }
      out = std::move(t);
      break;
    }
    case RrType::HINFO: {
      Hinfo h;
      auto cpu = readCharString(r, end);
      if (!cpu.ok()) return std::move(cpu).error();
      auto os = readCharString(r, end);
      if (!os.ok()) return std::move(os).error();
      h.cpu = std::move(*cpu);
      h.os = std::move(*os);
      out = std::move(h);
      break;
    }
    default: {
      auto b = r.bytes(rdlen);
      out = Opaque{std::vector<uint8_t>(b.begin(), b.end())};
      break;
    }
  }
  if (!r.ok() || r.pos() != end) {
    return Error::invalid(typeName(type) + " rdata length " + std::to_string(rdlen) +
                          " disagrees with its contents");
  }
  return out;
}

enum class Section { Answer, Authority, Additional };

Section sectionOf(size_t index, uint16_t an, uint16_t ns) {
  if (index < an) return Section::Answer;
  if (index < size_t(an) + ns) return Section::Authority;
  return Section::Additional;
}

Status readEdns(ByteReader& r, const Name& owner, uint16_t rclass, uint32_t ttl, uint16_t rdlen,
                Edns& e) {
  // RFC 6891 §6.1.1: the OPT owner must be the root.
  if (!owner.isRoot()) return Error::invalid("OPT record not owned by the root");
  e.udpSize = rclass;
  e.extendedRcode = uint8_t(ttl >> 24);
  e.version = uint8_t(ttl >> 16);
  e.dnssecOk = (ttl & 0x8000u) != 0;
  const size_t end = r.pos() + rdlen;
  if (r.remaining() < rdlen) return Error::invalid("OPT rdata overruns message");
  while (r.pos() < end) {
    if (end - r.pos() < 4) return Error::invalid("truncated EDNS option");
    EdnsOption o;
    o.code = r.u16();
    const uint16_t len = r.u16();
    if (end - r.pos() < len) return Error::invalid("EDNS option overruns OPT rdata");
    auto b = r.bytes(len);
    o.data.assign(b.begin(), b.end());
    e.options.push_back(std::move(o));
  }
  return Status::success();
}

}  // namespace

std::string typeName(RrType t) {
  switch (t) {
    case RrType::A:
      return "A";
    case RrType::NS:
      return "NS";
    case RrType::CNAME:
      return "CNAME";
    case RrType::SOA:
      return "SOA";
    case RrType::PTR:
      return "PTR";
    case RrType::HINFO:
      return "HINFO";
    case RrType::MX:
      return "MX";
    case RrType::TXT:
      return "TXT";
    case RrType::AAAA:
      return "AAAA";
    case RrType::SRV:
      return "SRV";
    case RrType::OPT:
      return "OPT";
    case RrType::IXFR:
      return "IXFR";
    case RrType::AXFR:
      return "AXFR";
    case RrType::ANY:
      return "ANY";
  }
  return "TYPE" + std::to_string(uint16_t(t));
}

uint16_t Header::flags() const {
  return uint16_t((qr ? 0x8000 : 0) | ((opcode & 0xF) << 11) | (aa ? 0x0400 : 0) |
                  (tc ? 0x0200 : 0) | (rd ? 0x0100 : 0) | (ra ? 0x0080 : 0) | (ad ? 0x0020 : 0) |
                  (cd ? 0x0010 : 0) | (rcode & 0xF));
}

Header Header::fromFlags(uint16_t id, uint16_t f) {
  Header h;
  h.id = id;
  h.qr = (f & 0x8000) != 0;
  h.opcode = uint8_t((f >> 11) & 0xF);
  h.aa = (f & 0x0400) != 0;
  h.tc = (f & 0x0200) != 0;
  h.rd = (f & 0x0100) != 0;
  h.ra = (f & 0x0080) != 0;
  h.ad = (f & 0x0020) != 0;
  h.cd = (f & 0x0010) != 0;
  h.rcode = uint8_t(f & 0xF);
  return h;
}

Rcode Message::rcode() const {
  const uint16_t ext = edns ? uint16_t(edns->extendedRcode) << 4 : 0;
  return Rcode(uint16_t(header.rcode | ext));
}

void Message::setRcode(Rcode rc) {
  header.rcode = uint8_t(uint16_t(rc) & 0xF);
  if (uint16_t(rc) > 0xF) {
    if (!edns) edns.emplace();
    edns->extendedRcode = uint8_t(uint16_t(rc) >> 4);
  } else if (edns) {
    edns->extendedRcode = 0;
  }
}

Result<Message> parseMessage(std::span<const uint8_t> wire) {
  ByteReader r(wire);
  Message m;
  const uint16_t id = r.u16();
  const uint16_t flags = r.u16();
  const uint16_t qd = r.u16();
  const uint16_t an = r.u16();
  const uint16_t ns = r.u16();
  const uint16_t ar = r.u16();
  if (!r.ok()) return Error::invalid("message shorter than the 12-octet header");
  m.header = Header::fromFlags(id, flags);

  // Each question takes at least 5 octets and each record at least 11, so counts larger
  // than the message allows are rejected before anything is reserved.
  if (size_t(qd) * 5 + (size_t(an) + ns + ar) * 11 > r.remaining()) {
    return Error::invalid("section counts exceed the message size");
  }
  m.questions.reserve(qd);
  for (uint16_t i = 0; i < qd; ++i) {
    auto n = Name::read(r);
    if (!n.ok()) return std::move(n).error().context("question " + std::to_string(i));
    Question q;
    q.name = *n;
    q.type = RrType(r.u16());
    q.qclass = r.u16();
    if (!r.ok()) return Error::invalid("truncated question");
    m.questions.push_back(q);
  }
  const size_t total = size_t(an) + ns + ar;
  for (size_t i = 0; i < total; ++i) {
    const Section sec = sectionOf(i, an, ns);
    auto owner = Name::read(r);
    if (!owner.ok()) return std::move(owner).error().context("record " + std::to_string(i));
    const RrType type = RrType(r.u16());
    const uint16_t rclass = r.u16();
    const uint32_t ttl = r.u32();
    const uint16_t rdlen = r.u16();
    if (!r.ok()) return Error::invalid("truncated record header");
    if (type == RrType::OPT) {
      if (sec != Section::Additional) return Error::invalid("OPT record outside additional");
      if (m.edns) return Error::invalid("more than one OPT record");  // RFC 6891 §6.1.1
      Edns e;
      VNET_TRY(readEdns(r, *owner, rclass, ttl, rdlen, e));
      m.edns = std::move(e);
      continue;
    }
    auto data = readRdata(r, type, rdlen);
    if (!data.ok()) return std::move(data).error().context("record " + std::to_string(i));
    ResourceRecord rr{*owner, type, rclass, ttl, std::move(*data)};
    switch (sec) {
      case Section::Answer:
        m.answers.push_back(std::move(rr));
        break;
      case Section::Authority:
        m.authority.push_back(std::move(rr));
        break;
      case Section::Additional:
        m.additional.push_back(std::move(rr));
        break;
    }
  }
  if (r.remaining() != 0) return Error::invalid("trailing octets after the last record");
  return m;
}

Result<std::vector<uint8_t>> serializeMessage(const Message& m, size_t maxSize) {
  maxSize = std::min(maxSize, kMaxMessageSize);
  std::vector<uint8_t> out;
  out.reserve(std::min<size_t>(maxSize, 512));
  Compressor c;
  Header h = m.header;
  if (m.questions.size() > 0xFFFF) return Error::invalid("too many questions");
  appendU16(out, h.id);
  appendU16(out, 0);  // flags, written last (TC may change)
  appendU16(out, uint16_t(m.questions.size()));
  appendU16(out, 0);
  appendU16(out, 0);
  appendU16(out, 0);
  for (const auto& q : m.questions) {
    c.write(out, q.name, true);
    appendU16(out, uint16_t(q.type));
    appendU16(out, q.qclass);
  }
  const size_t reserve = m.edns ? optSize(*m.edns) : 0;
  if (out.size() + reserve > maxSize) return Error::invalid("question does not fit the size limit");

  uint16_t counts[3] = {0, 0, 0};
  const std::vector<ResourceRecord>* sections[3] = {&m.answers, &m.authority, &m.additional};
  bool full = false;
  for (int s = 0; s < 3 && !full; ++s) {
    for (const auto& rr : *sections[s]) {
      const size_t before = out.size();
      const size_t mark = c.mark();
      VNET_TRY(putRecord(out, c, rr));
      if (out.size() + reserve > maxSize || counts[s] == 0xFFFF) {
        out.resize(before);
        c.rollback(mark);
        // RFC 2181 §9: TC only when required data (answer/authority) was dropped.
        if (s < 2) h.tc = true;
        full = true;
        break;
      }
      ++counts[s];
    }
  }
  uint16_t arcount = counts[2];
  if (m.edns) {
    putOpt(out, *m.edns);
    ++arcount;
  }
  storeU16(out, 2, h.flags());
  storeU16(out, 6, counts[0]);
  storeU16(out, 8, counts[1]);
  storeU16(out, 10, arcount);
  return out;
}

Result<std::vector<uint8_t>> encodeRdata(RrType type, const Rdata& data) {
  std::vector<uint8_t> out;
  VNET_TRY(putRdata(out, nullptr, type, data));
  if (out.size() > 0xFFFF) return Error::invalid("rdata longer than 65535 octets");
  return out;
}

void writeName(ByteWriter& w, const Name& n) {
  w.bytes(n.wire());
}

void appendOptRecord(std::vector<uint8_t>& out, uint16_t udpSize, bool dnssecOk, uint16_t rcode) {
  out.push_back(0);  // owner: root
  appendU16(out, uint16_t(RrType::OPT));
  appendU16(out, udpSize);
  out.push_back(uint8_t(rcode >> 4));
  out.push_back(0);  // version 0
  appendU16(out, dnssecOk ? 0x8000 : 0);
  appendU16(out, 0);  // no options
}

Result<MessageLayout> scanMessage(std::span<const uint8_t> wire, bool collectTtls) {
  ByteReader r(wire);
  MessageLayout l;
  const uint16_t id = r.u16();
  const uint16_t flags = r.u16();
  l.qdcount = r.u16();
  l.ancount = r.u16();
  l.nscount = r.u16();
  l.arcount = r.u16();
  if (!r.ok()) return Error::invalid("message shorter than the 12-octet header");
  l.header = Header::fromFlags(id, flags);
  if (size_t(l.qdcount) * 5 + (size_t(l.ancount) + l.nscount + l.arcount) * 11 > r.remaining()) {
    return Error::invalid("section counts exceed the message size");
  }
  for (uint16_t i = 0; i < l.qdcount; ++i) {
    auto n = Name::read(r);
    if (!n.ok()) return std::move(n).error().context("question");
    const uint16_t type = r.u16();
    const uint16_t qclass = r.u16();
    if (!r.ok()) return Error::invalid("truncated question");
    if (i == 0) {
      l.hasQuestion = true;
      l.question = Question{*n, RrType(type), qclass};
    }
  }
  l.questionEnd = r.pos();
  const size_t total = size_t(l.ancount) + l.nscount + l.arcount;
  if (collectTtls) l.ttlOffsets.reserve(total);
  bool firstAnswer = true;
  for (size_t i = 0; i < total; ++i) {
    const Section sec = sectionOf(i, l.ancount, l.nscount);
    const size_t start = r.pos();
    auto owner = Name::read(r);
    if (!owner.ok()) return std::move(owner).error().context("record " + std::to_string(i));
    const RrType type = RrType(r.u16());
    const uint16_t rclass = r.u16();
    const size_t ttlAt = r.pos();
    const uint32_t ttl = r.u32();
    const uint16_t rdlen = r.u16();
    const size_t rdataAt = r.pos();
    if (!r.ok() || !r.skip(rdlen)) return Error::invalid("truncated record");
    if (type == RrType::OPT) {
      if (sec != Section::Additional) return Error::invalid("OPT record outside additional");
      if (l.hasEdns) return Error::invalid("more than one OPT record");
      if (!owner->isRoot()) return Error::invalid("OPT record not owned by the root");
      l.hasEdns = true;
      l.ednsUdpSize = rclass;
      l.ednsExtendedRcode = uint8_t(ttl >> 24);
      l.ednsVersion = uint8_t(ttl >> 16);
      l.dnssecOk = (ttl & 0x8000u) != 0;
      l.optOffset = start;
      l.optSize = r.pos() - start;
      l.optIsLast = (i + 1 == total);
      continue;
    }
    if (collectTtls) l.ttlOffsets.push_back(uint32_t(ttlAt));
    const uint32_t t = sanitizeTtl(ttl);
    if (sec == Section::Answer) {
      l.minAnswerTtl = firstAnswer ? t : std::min(l.minAnswerTtl, t);
      firstAnswer = false;
    } else if (sec == Section::Authority && type == RrType::SOA && !l.negativeTtl) {
      ByteReader sr(wire);
      sr.seek(rdataAt);
      auto soa = readRdata(sr, RrType::SOA, rdlen);
      if (!soa.ok()) return std::move(soa).error().context("authority SOA");
      // RFC 2308 §5: negative answers live for min(SOA TTL, SOA MINIMUM).
      l.negativeTtl = std::min(t, sanitizeTtl(std::get<Soa>(*soa).minimum));
      l.soaTtlOffset = ttlAt;
    }
  }
  if (r.remaining() != 0) return Error::invalid("trailing octets after the last record");
  return l;
}

bool namesSurviveFieldRewrite(std::span<const uint8_t> wire, const MessageLayout& layout) {
  // The rewritable octets are overwritten with 0x40, a label type Name::read refuses: a
  // name reads the poisoned copy exactly when it reads none of them as a length or pointer,
  // and then its framing cannot depend on them.
  constexpr uint8_t kPoison = 0x40;
  std::vector<uint8_t> copy(wire.begin(), wire.end());
  for (uint32_t off : layout.ttlOffsets) {
    if (size_t(off) + 4 > copy.size()) return false;
    std::memset(copy.data() + off, kPoison, 4);
  }
  if (layout.hasEdns) {
    if (layout.optOffset + 5 > copy.size()) return false;
    copy[layout.optOffset + 3] = kPoison;
    copy[layout.optOffset + 4] = kPoison;
  }
  ByteReader r(copy);
  r.seek(kHeaderSize);
  for (uint16_t i = 0; i < layout.qdcount; ++i) {
    if (!Name::read(r).ok() || !r.skip(4)) return false;
  }
  const size_t total = size_t(layout.ancount) + layout.nscount + layout.arcount;
  for (size_t i = 0; i < total; ++i) {
    if (!Name::read(r).ok()) return false;
    const RrType type = RrType(r.u16());
    r.skip(6);  // CLASS, TTL
    const uint16_t rdlen = r.u16();
    const size_t end = r.pos() + rdlen;
    if (!r.ok()) return false;
    size_t names = 0;
    switch (type) {
      case RrType::NS:
      case RrType::CNAME:
      case RrType::PTR:
        names = 1;
        break;
      case RrType::SOA:
        names = 2;
        break;
      case RrType::MX:
        names = 1;
        r.skip(2);
        break;
      case RrType::SRV:
        names = 1;
        r.skip(6);
        break;
      default:
        break;
    }
    for (size_t k = 0; k < names; ++k) {
      if (!Name::read(r).ok() || r.pos() > end) return false;
    }
    if (!r.seek(end)) return false;
  }
  return true;
}

}  // namespace vnet::dns

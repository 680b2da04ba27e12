#include "dhcp/message.h"

#include <algorithm>
#include <cstring>

#include "base/bytes.h"

namespace vnet::dhcp {
namespace {

constexpr uint32_t kMagicCookie = 0x63825363;  // RFC 2131 §3: 99.130.83.99
constexpr size_t kBootpMinSize = 300;
constexpr size_t kMaxDatagram = 65535;

// One occurrence of an option inside the packet, before same-code occurrences are joined.
struct Fragment {
  uint8_t code;
  uint32_t offset;  // into the whole packet
  uint32_t length;
};

// Scans one options area (RFC 2132 §2). field_offset is where field starts in the packet.
// Option 52 is reported through *overload when allowed, and ignored otherwise (RFC 2131 §4.1:
// it may only appear in the options field), which is what stops overload loops.
Status scanOptions(std::span<const uint8_t> field, size_t field_offset, bool allow_overload,
                   std::vector<Fragment>& out, uint8_t* overload) {
  size_t pos = 0;
  while (pos < field.size()) {
    const uint8_t code = field[pos];
    if (code == opt::kPad) {
      ++pos;
      continue;
    }
    if (code == opt::kEnd) return Status::success();
    if (field.size() - pos < 2) {
      return Error::invalid("option " + std::to_string(code) + ": length byte past end");
    }
    const size_t len = field[pos + 1];
    if (len > field.size() - pos - 2) {
      return Error::invalid("option " + std::to_string(code) + ": " + std::to_string(len) +
                            " bytes past end");
    }
    if (code == opt::kOverload) {
      if (allow_overload) {
        if (len != 1 || field[pos + 2] < 1 || field[pos + 2] > 3) {
          return Error::invalid("option 52: malformed overload");
        }
        if (*overload != 0) return Error::invalid("option 52: repeated");
        *overload = field[pos + 2];
      }
    } else {
      out.push_back(Fragment{code, uint32_t(field_offset + pos + 2), uint32_t(len)});
    }
    pos += 2 + len;
  }
  return Status::success();  // RFC 2131 leaves a missing END to the receiver; we tolerate it.
}

template <size_t N>
void putArray(std::vector<uint8_t>& out, const std::array<uint8_t, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}

// Bytes option (code, data) takes on the wire, split into 255-byte pieces (RFC 3396).
size_t encodedSize(size_t length) {
  if (length == 0) return 2;
  return length + 2 * ((length + 254) / 255);
}

void putOption(std::vector<uint8_t>& out, uint8_t code, std::span<const uint8_t> data) {
  if (data.empty()) {
    out.push_back(code);
    out.push_back(0);
    return;
  }
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), 255);
    out.push_back(code);
    out.push_back(uint8_t(n));
    out.insert(out.end(), data.begin(), data.begin() + ptrdiff_t(n));
    data = data.subspan(n);
  }
}

}  // namespace

const char* messageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kDiscover:
      return "DHCPDISCOVER";
    case MessageType::kOffer:
      return "DHCPOFFER";
    case MessageType::kRequest:
      return "DHCPREQUEST";
    case MessageType::kDecline:
      return "DHCPDECLINE";
    case MessageType::kAck:
      return "DHCPACK";
    case MessageType::kNak:
      return "DHCPNAK";
    case MessageType::kRelease:
      return "DHCPRELEASE";
    case MessageType::kInform:
      return "DHCPINFORM";
  }
  return "DHCP?";
}

// ---- Options ----

const Options::Slot* Options::find(uint8_t code) const {
  for (const Slot& s : entries_) {
    if (s.code == code) return &s;
  }
  return nullptr;
}

Options::Slot* Options::find(uint8_t code) {
  for (Slot& s : entries_) {
    if (s.code == code) return &s;
  }
  return nullptr;
}

std::optional<std::span<const uint8_t>> Options::get(uint8_t code) const {
  const Slot* s = find(code);
  if (!s) return std::nullopt;
  return std::span<const uint8_t>(bytes_).subspan(s->offset, s->length);
}

Options::Entry Options::at(size_t i) const {
  const Slot& s = entries_.at(i);
  return Entry{s.code, std::span<const uint8_t>(bytes_).subspan(s.offset, s.length)};
}

void Options::set(uint8_t code, std::span<const uint8_t> data) {
  Slot* s = find(code);
  if (s && data.size() <= s->length) {
    std::copy(data.begin(), data.end(), bytes_.begin() + s->offset);
    s->length = uint32_t(data.size());
    return;
  }
  const uint32_t offset = uint32_t(bytes_.size());
  bytes_.insert(bytes_.end(), data.begin(), data.end());
  if (s) {
    s->offset = offset;
    s->length = uint32_t(data.size());
  } else {
    entries_.push_back(Slot{code, offset, uint32_t(data.size())});
  }
}

void Options::append(uint8_t code, std::span<const uint8_t> data) {
  Slot* s = find(code);
  if (!s) {
    set(code, data);
    return;
  }
  if (s->offset + s->length != bytes_.size()) {
    // Move the existing value to the end so that the value stays contiguous.
    const size_t old = s->offset;
    const size_t len = s->length;
    bytes_.resize(bytes_.size() + len);
    std::copy_n(bytes_.begin() + ptrdiff_t(old), len, bytes_.end() - ptrdiff_t(len));
    s->offset = uint32_t(bytes_.size() - len);
  }
  bytes_.insert(bytes_.end(), data.begin(), data.end());
  s->length += uint32_t(data.size());
}

void Options::erase(uint8_t code) {
  std::erase_if(entries_, [code](const Slot& s) { return s.code == code; });
}

void Options::clear() {
  entries_.clear();
  bytes_.clear();
}

void Options::reserve(size_t entries, size_t bytes) {
  entries_.reserve(entries);
  bytes_.reserve(bytes);
}

bool operator==(const Options& a, const Options& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ea = a.at(i);
    const auto eb = b.at(i);
    if (ea.code != eb.code || !std::ranges::equal(ea.data, eb.data)) return false;
  }
  return true;
}

// ---- Message accessors ----

Mac Message::mac() const {
  Mac::Bytes b;
  std::copy_n(chaddr.begin(), 6, b.begin());
  return Mac(b);
}

void Message::setMac(const Mac& m) {
  chaddr.fill(0);
  std::copy(m.bytes().begin(), m.bytes().end(), chaddr.begin());
  htype = 1;
  hlen = 6;
}

std::optional<MessageType> Message::messageType() const {
  auto d = options.get(opt::kMessageType);
  if (!d || d->size() != 1 || (*d)[0] < 1 || (*d)[0] > 8) return std::nullopt;
  return MessageType((*d)[0]);
}

namespace {
std::optional<Ipv4> ipOption(const Options& o, uint8_t code) {
  auto d = o.get(code);
  if (!d || d->size() != 4) return std::nullopt;
  return Ipv4::fromBytes(d->data());
}
}  // namespace

std::optional<Ipv4> Message::requestedIp() const {
  return ipOption(options, opt::kRequestedIp);
}
std::optional<Ipv4> Message::serverId() const {
  return ipOption(options, opt::kServerId);
}

std::optional<std::span<const uint8_t>> Message::clientId() const {
  auto d = options.get(opt::kClientId);
  // RFC 2132 §9.14: type byte plus at least one byte of identifier.
  if (!d || d->size() < 2) return std::nullopt;
  return d;
}

std::optional<std::span<const uint8_t>> Message::parameterRequestList() const {
  auto d = options.get(opt::kParameterRequestList);
  if (!d || d->empty()) return std::nullopt;
  return d;
}

std::optional<uint16_t> Message::maxMessageSize() const {
  auto d = options.get(opt::kMaxMessageSize);
  if (!d || d->size() != 2) return std::nullopt;
  const uint16_t v = uint16_t(((*d)[0] << 8) | (*d)[1]);
  return std::max<uint16_t>(v, uint16_t(kMinMaxMessageSize));
}

std::optional<std::string_view> Message::hostname() const {
  auto d = options.get(opt::kHostName);
  if (!d || d->empty()) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(d->data()), d->size());
}

std::optional<uint32_t> Message::leaseTime() const {
  auto d = options.get(opt::kLeaseTime);
  if (!d || d->size() != 4) return std::nullopt;
  return Ipv4::fromBytes(d->data()).toUint();
}

void Message::setMessageType(MessageType t) {
  const uint8_t v = uint8_t(t);
  options.set(opt::kMessageType, std::span(&v, 1));
}

void Message::setIpv4(uint8_t code, Ipv4 a) {
  const auto b = a.toBytes();
  options.set(code, b);
}

void Message::setU32(uint8_t code, uint32_t v) {
  setIpv4(code, Ipv4(v));
}

void Message::setU16(uint8_t code, uint16_t v) {
  const uint8_t b[2] = {uint8_t(v >> 8), uint8_t(v)};
  options.set(code, b);
}

// ---- parse / serialize ----

Status parseInto(std::span<const uint8_t> bytes, Message& m) {
  if (bytes.size() < kMinMessageSize) {
    return Error::invalid("message of " + std::to_string(bytes.size()) +
                          " bytes is shorter than 240");
  }
  ByteReader r(bytes);
  m.options.clear();
  m.op = r.u8();
  m.htype = r.u8();
  m.hlen = r.u8();
  m.hops = r.u8();
  m.xid = r.u32();
  m.secs = r.u16();
  m.flags = r.u16();
  m.ciaddr = Ipv4(r.u32());
  m.yiaddr = Ipv4(r.u32());
  m.siaddr = Ipv4(r.u32());
  m.giaddr = Ipv4(r.u32());
  const size_t sname_offset = 44;
  const size_t file_offset = 108;
  auto chaddr = r.bytes(m.chaddr.size());
  auto sname = r.bytes(m.sname.size());
  auto file = r.bytes(m.file.size());
  const uint32_t cookie = r.u32();
  if (!r.ok()) return Error::invalid("truncated header");  // unreachable after the size check
  std::copy(chaddr.begin(), chaddr.end(), m.chaddr.begin());
  std::copy(sname.begin(), sname.end(), m.sname.begin());
  std::copy(file.begin(), file.end(), m.file.begin());

  if (m.hlen > m.chaddr.size()) return Error::invalid("hlen " + std::to_string(m.hlen) + " > 16");
  if (m.htype == 1 && m.hlen != 6) return Error::invalid("Ethernet htype with hlen != 6");
  if (cookie != kMagicCookie) return Error::invalid("bad magic cookie");

  // Scratch kept per thread so that parsing does not allocate in the steady state.
  thread_local std::vector<Fragment> frags;
  thread_local std::vector<int32_t> next;
  frags.clear();
  uint8_t overload = 0;
  VNET_TRY(scanOptions(bytes.subspan(kMinMessageSize), kMinMessageSize, true, frags, &overload));
  // RFC 2131 §4.1: options field first, then 'file', then 'sname'.
  if (overload & 1) {
    VNET_TRY(scanOptions(bytes.subspan(file_offset, m.file.size()), file_offset, false, frags,
                         &overload));
    m.file.fill(0);
  }
  if (overload & 2) {
    VNET_TRY(scanOptions(bytes.subspan(sname_offset, m.sname.size()), sname_offset, false, frags,
                         &overload));
    m.sname.fill(0);
  }

  // Join repeated codes in first-appearance order (RFC 3396 §7): each code's fragments are
  // chained so that the join is linear in the number of fragments.
  std::array<int32_t, 256> head;
  std::array<int32_t, 256> tail;
  head.fill(-1);
  next.assign(frags.size(), -1);
  std::array<uint8_t, 256> order;
  size_t codes = 0;
  size_t total = 0;
  for (size_t i = 0; i < frags.size(); ++i) {
    const uint8_t c = frags[i].code;
    total += frags[i].length;
    if (head[c] < 0) {
      head[c] = int32_t(i);
      order[codes++] = c;
    } else {
      next[size_t(tail[c])] = int32_t(i);
    }
    tail[c] = int32_t(i);
  }
  m.options.reserve(codes, total);
  for (size_t k = 0; k < codes; ++k) {
    const uint8_t c = order[k];
    m.options.set(c, {});
    for (int32_t i = head[c]; i >= 0; i = next[size_t(i)]) {
      m.options.append(c, bytes.subspan(frags[size_t(i)].offset, frags[size_t(i)].length));
    }
  }
  return Status::success();
}

Result<Message> parse(std::span<const uint8_t> bytes) {
  Message m;
  VNET_TRY(parseInto(bytes, m));
  return m;
}

void serializeInto(const Message& m, size_t max_message_size, std::vector<uint8_t>& out) {
  const size_t limit =
      std::min(std::max(max_message_size, kMinMaxMessageSize), kMaxDatagram) - kIpUdpHeaderSize;
  out.clear();
  out.reserve(std::max(kBootpMinSize, std::min<size_t>(limit, 576)));
  out.push_back(m.op);
  out.push_back(m.htype);
  out.push_back(m.hlen);
  out.push_back(m.hops);
  appendU32(out, m.xid);
  appendU16(out, m.secs);
  appendU16(out, m.flags);
  appendU32(out, m.ciaddr.toUint());
  appendU32(out, m.yiaddr.toUint());
  appendU32(out, m.siaddr.toUint());
  appendU32(out, m.giaddr.toUint());
  putArray(out, m.chaddr);
  putArray(out, m.sname);
  putArray(out, m.file);
  appendU32(out, kMagicCookie);

  auto fits = [&](size_t length) { return out.size() + encodedSize(length) + 1 <= limit; };
  constexpr uint8_t kFirst[] = {opt::kMessageType, opt::kServerId, opt::kLeaseTime};
  for (uint8_t code : kFirst) {
    if (auto d = m.options.get(code); d && fits(d->size())) putOption(out, code, *d);
  }
  for (size_t i = 0; i < m.options.size(); ++i) {
    const auto e = m.options.at(i);
    if (std::ranges::find(kFirst, e.code) != std::end(kFirst) || e.code == opt::kPad ||
        e.code == opt::kEnd || e.code == opt::kOverload) {
      continue;
    }
    if (fits(e.data.size())) putOption(out, e.code, e.data);
  }
  out.push_back(opt::kEnd);
  if (out.size() < kBootpMinSize) out.resize(kBootpMinSize, 0);
}

std::vector<uint8_t> serialize(const Message& m, size_t max_message_size) {
  std::vector<uint8_t> out;
  serializeInto(m, max_message_size, out);
  return out;
}

}  // namespace vnet::dhcp

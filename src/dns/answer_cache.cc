#include "dns/answer_cache.h"

#include <chrono>
#include <cstring>
#include <functional>

#include "base/bytes.h"

namespace vnet::dns {

namespace {

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagAd = 0x0020;
constexpr uint16_t kFlagCd = 0x0010;
constexpr size_t kOptFixedSize = 11;  // root owner, type, class, TTL, RDLENGTH

// The shape bits of the key.
constexpr uint8_t kShapeRd = 1;
constexpr uint8_t kShapeCd = 2;
constexpr uint8_t kShapeAd = 4;
constexpr uint8_t kShapeEdns = 8;
constexpr uint8_t kShapeDo = 16;

uint16_t readU16(std::span<const uint8_t> b, size_t at) {
  return uint16_t((b[at] << 8) | b[at + 1]);
}

}  // namespace

bool parseSimpleQuery(std::span<const uint8_t> wire, SimpleQuery& q) {
  if (wire.size() < kHeaderSize) return false;
  const uint16_t flags = readU16(wire, 2);
  if ((flags & (kFlagQr | kOpcodeMask)) != 0) return false;
  const uint16_t arcount = readU16(wire, 10);
  if (readU16(wire, 4) != 1 || readU16(wire, 6) != 0 || readU16(wire, 8) != 0 || arcount > 1) {
    return false;
  }
  // The name: plain labels only (a pointer in the first question can only point backwards
  // into the header, which Name::read rejects as well).
  size_t pos = kHeaderSize;
  for (;;) {
    if (pos >= wire.size()) return false;
    const uint8_t len = wire[pos];
    if (len > kMaxLabelLength) return false;
    if (pos + 1 + len - kHeaderSize > kMaxNameLength) return false;
    pos += 1 + size_t(len);
    if (len == 0) break;
  }
  const size_t nameSize = pos - kHeaderSize;
  if (wire.size() - pos < 4) return false;
  q.qtype = readU16(wire, pos);
  q.qclass = readU16(wire, pos + 2);
  pos += 4;
  q.edns = false;
  q.ednsUdpSize = 0;
  q.dnssecOk = false;
  if (arcount == 1) {
    if (wire.size() - pos < kOptFixedSize || wire[pos] != 0 ||
        readU16(wire, pos + 1) != uint16_t(RrType::OPT)) {
      return false;
    }
    const uint8_t version = wire[pos + 6];
    const uint16_t rdlen = readU16(wire, pos + 9);
    if (version != 0 || wire.size() - pos - kOptFixedSize != rdlen) return false;
    q.edns = true;
    q.ednsUdpSize = readU16(wire, pos + 3);
    q.dnssecOk = (wire[pos + 7] & 0x80) != 0;
  } else if (pos != wire.size()) {
    return false;
  }
  q.id = readU16(wire, 0);
  q.flags = flags;
  q.nameSize = nameSize;
  return true;
}

void replayAnswer(const AnswerTemplate& t, std::span<const uint8_t> query, const SimpleQuery& q,
                  SteadyTime now, size_t maxSize, uint16_t ourUdpSize, std::vector<uint8_t>& out) {
  if (t.wire.size() > maxSize) {
    // RFC 2181 §9: nothing that does not fit; TC sends the client to TCP.
    out.assign(query.begin(), query.begin() + std::ptrdiff_t(q.questionEnd()));
    storeU16(out, 2, uint16_t(readU16(t.wire, 2) | kFlagTc));
    storeU16(out, 4, 1);
    storeU16(out, 6, 0);
    storeU16(out, 8, 0);
    storeU16(out, 10, q.edns ? 1 : 0);
    if (q.edns) appendOptRecord(out, ourUdpSize, q.dnssecOk, 0);
    return;
  }
  out.assign(t.wire.begin(), t.wire.end());
  out[0] = query[0];
  out[1] = query[1];
  if (t.patchName) std::memcpy(out.data() + kHeaderSize, query.data() + kHeaderSize, q.nameSize);
  if (t.ttlOffsets.empty()) return;
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - t.stored).count();
  const uint32_t elapsed = age <= 0 ? 0 : uint32_t(age);
  for (uint32_t off : t.ttlOffsets) {
    const uint32_t ttl = (uint32_t{out[off]} << 24) | (uint32_t{out[off + 1]} << 16) |
                         (uint32_t{out[off + 2]} << 8) | out[off + 3];
    const uint32_t left = ttl > elapsed ? ttl - elapsed : 0;
    out[off] = uint8_t(left >> 24);
    out[off + 1] = uint8_t(left >> 16);
    out[off + 2] = uint8_t(left >> 8);
    out[off + 3] = uint8_t(left);
  }
}

AnswerCache::KeyRef AnswerCache::makeKey(std::span<const uint8_t> query, const SimpleQuery& q,
                                         KeyBuffer& buf) {
  size_t n = 0;
  for (size_t i = 0; i < q.nameSize; ++i) buf[n++] = char(foldCase(query[kHeaderSize + i]));
  buf[n++] = char(q.qtype >> 8);
  buf[n++] = char(q.qtype);
  buf[n++] = char(q.qclass >> 8);
  buf[n++] = char(q.qclass);
  buf[n++] = char(((q.flags & kFlagRd) ? kShapeRd : 0) | ((q.flags & kFlagCd) ? kShapeCd : 0) |
                  ((q.flags & kFlagAd) ? kShapeAd : 0) | (q.edns ? kShapeEdns : 0) |
                  (q.dnssecOk ? kShapeDo : 0));
  const std::string_view bytes(buf.data(), n);
  return KeyRef{bytes, std::hash<std::string_view>{}(bytes)};
}

const AnswerTemplate* AnswerCache::find(std::span<const uint8_t> query, const SimpleQuery& q,
                                        SteadyTime now) {
  if (map_.empty()) return nullptr;
  KeyBuffer buf;
  const auto it = map_.find(makeKey(query, q, buf));
  if (it == map_.end()) return nullptr;
  if (now >= it->second->answer.expires) {
    const auto node = it->second;
    map_.erase(it);
    order_.erase(node);
    return nullptr;
  }
  return &it->second->answer;
}

void AnswerCache::insert(std::span<const uint8_t> query, const SimpleQuery& q, AnswerTemplate t) {
  if (maxEntries_ == 0) return;
  KeyBuffer buf;
  const KeyRef key = makeKey(query, q, buf);
  if (auto it = map_.find(key); it != map_.end()) {
    it->second->answer = std::move(t);
    return;
  }
  evictToFit(maxEntries_ - 1);
  order_.push_front(Node{std::string(key.bytes), key.hash, std::move(t)});
  map_.emplace(KeyRef{order_.front().key, key.hash}, order_.begin());
}

void AnswerCache::erase(std::span<const uint8_t> query, const SimpleQuery& q) {
  KeyBuffer buf;
  if (auto it = map_.find(makeKey(query, q, buf)); it != map_.end()) {
    const auto node = it->second;
    map_.erase(it);
    order_.erase(node);
  }
}

void AnswerCache::clear() {
  map_.clear();
  order_.clear();
}

void AnswerCache::setMaxEntries(size_t maxEntries) {
  maxEntries_ = maxEntries;
  evictToFit(maxEntries_);
}

void AnswerCache::evictToFit(size_t entries) {
  while (map_.size() > entries && !order_.empty()) {
    const Node& oldest = order_.back();
    map_.erase(KeyRef{oldest.key, oldest.hash});
    order_.pop_back();
  }
}

}  // namespace vnet::dns

#include "dhcp/lease_table.h"

#include <algorithm>
#include <cstring>

namespace vnet::dhcp {
namespace {

constexpr size_t kMinCapacity = 16;

uint64_t fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint32_t hashIp(uint32_t ip) {
  return uint32_t(fmix64(ip));
}

uint32_t hashKey(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return uint32_t(fmix64(h));
}

// Whether key is prefix + "\x01" + mac (the keys kept as the record's MAC).
bool isMacKey(std::string_view key, char prefix, const Mac& mac) {
  return key.size() == 8 && key[0] == prefix && key[1] == '\x01' &&
         std::memcmp(key.data() + 2, mac.bytes().data(), 6) == 0;
}

// Backward-shift deletion for linear probing: empties slot i and moves later entries of the
// same cluster back so that every entry stays reachable from its home slot.
template <class T, class IsEmpty, class Home>
void eraseSlot(std::vector<T>& t, size_t i, const T& empty, IsEmpty is_empty, Home home) {
  const size_t mask = t.size() - 1;
  size_t j = i;
  for (;;) {
    t[i] = empty;
    for (;;) {
      j = (j + 1) & mask;
      if (is_empty(t[j])) return;
      const size_t k = home(t[j]) & mask;
      // t[j] may stay when its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (!stays) break;
    }
    t[i] = t[j];
    i = j;
  }
}

}  // namespace

void LeaseTable::clear() {
  recs_ = {};
  extras_ = {};
  free_extras_ = {};
  by_ip_ = {};
  by_key_ = {};
  free_head_ = kNone;
  count_ = 0;
  keys_ = 0;
}

size_t LeaseTable::memoryBytes() const {
  size_t n = recs_.capacity() * sizeof(Rec) + extras_.capacity() * sizeof(Extra) +
             free_extras_.capacity() * sizeof(uint32_t) + by_ip_.capacity() * sizeof(Ref) +
             by_key_.capacity() * sizeof(KeySlot);
  for (const Extra& e : extras_) {
    if (e.key.capacity() > 15) n += e.key.capacity() + 1;
    if (e.hostname.capacity() > 15) n += e.hostname.capacity() + 1;
  }
  return n;
}

size_t LeaseTable::TEST_ipHome(Ipv4 ip, size_t capacity) {
  return hashIp(ip.toUint()) & (capacity - 1);
}

size_t LeaseTable::TEST_keyHome(std::string_view key, size_t capacity) {
  return hashKey(key) & (capacity - 1);
}

size_t LeaseTable::ipSlot(uint32_t ip) const {
  return hashIp(ip) & (by_ip_.size() - 1);
}

LeaseTable::Ref LeaseTable::find(Ipv4 ip) const {
  if (count_ == 0) return kNone;
  const size_t mask = by_ip_.size() - 1;
  for (size_t i = ipSlot(ip.toUint());; i = (i + 1) & mask) {
    const Ref r = by_ip_[i];
    if (r == kNone || recs_[r].ip == ip.toUint()) return r;
  }
}

std::string_view LeaseTable::keyOf(Ref r, std::array<char, 8>& buf) const {
  const Rec& rec = recs_[r];
  switch (rec.key_kind) {
    case kKeyMac:
    case kKeyIdMac:
      buf[0] = rec.key_kind == kKeyMac ? 'h' : 'i';
      buf[1] = '\x01';
      std::memcpy(buf.data() + 2, rec.mac.data(), 6);
      return std::string_view(buf.data(), buf.size());
    case kKeyExtra:
      return extras_[rec.extra - 1].key;
    default:
      return {};
  }
}

LeaseTable::Ref LeaseTable::findClient(std::string_view key) const {
  if (keys_ == 0 || key.empty()) return kNone;
  const uint32_t h = hashKey(key);
  const size_t mask = by_key_.size() - 1;
  std::array<char, 8> buf;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const KeySlot& s = by_key_[i];
    if (s.ref == kNone) return kNone;
    if (s.hash == h && keyOf(s.ref, buf) == key) return s.ref;
  }
}

bool LeaseTable::ownedBy(Ref r, std::string_view key) const {
  std::array<char, 8> buf;
  return hasOwner(r) && keyOf(r, buf) == key;
}

std::vector<uint8_t> LeaseTable::clientId(Ref r) const {
  std::array<char, 8> buf;
  const std::string_view k = keyOf(r, buf);
  if (k.size() < 2 || k[0] != 'i') return {};
  return std::vector<uint8_t>(k.begin() + 1, k.end());
}

std::string_view LeaseTable::hostname(Ref r) const {
  const Rec& rec = recs_[r];
  return rec.extra == 0 ? std::string_view() : std::string_view(extras_[rec.extra - 1].hostname);
}

LeaseTable::Extra& LeaseTable::extraFor(Ref r) {
  Rec& rec = recs_[r];
  if (rec.extra == 0) {
    if (!free_extras_.empty()) {
      rec.extra = free_extras_.back() + 1;
      free_extras_.pop_back();
    } else {
      extras_.emplace_back();
      rec.extra = uint32_t(extras_.size());
    }
  }
  return extras_[rec.extra - 1];
}

void LeaseTable::releaseExtraIfEmpty(Ref r) {
  Rec& rec = recs_[r];
  if (rec.extra == 0) return;
  Extra& e = extras_[rec.extra - 1];
  if (rec.key_kind == kKeyExtra || !e.hostname.empty()) return;
  e = Extra{};  // frees long strings
  free_extras_.push_back(rec.extra - 1);
  rec.extra = 0;
}

void LeaseTable::setHostname(Ref r, std::string_view name) {
  if (name.empty() && recs_[r].extra == 0) return;
  extraFor(r).hostname.assign(name);
  releaseExtraIfEmpty(r);
}

void LeaseTable::setMac(Ref r, const Mac& mac) {
  Rec& rec = recs_[r];
  if ((rec.key_kind == kKeyMac || rec.key_kind == kKeyIdMac) && rec.mac != mac.bytes()) {
    // The owner key was the old MAC: keep it, in the side table.
    std::array<char, 8> buf;
    std::string key(keyOf(r, buf));
    extraFor(r).key = std::move(key);
    recs_[r].key_kind = kKeyExtra;
  }
  recs_[r].mac = mac.bytes();
}

void LeaseTable::growIfNeeded() {
  const size_t cap = by_ip_.size();
  if ((count_ + 1) * 10 > cap * 7) rehash(std::max(kMinCapacity, cap * 2));
}

void LeaseTable::shrinkIfSparse() {
  const size_t cap = by_ip_.size();
  if (cap > kMinCapacity * 4 && count_ * 8 < cap) rehash(cap / 2);
}

void LeaseTable::rehash(size_t capacity) {
  by_ip_.assign(capacity, kNone);
  by_ip_.shrink_to_fit();
  std::vector<KeySlot> old_keys = std::move(by_key_);
  by_key_.assign(capacity, KeySlot{0, kNone});
  by_key_.shrink_to_fit();
  const size_t mask = capacity - 1;
  for (Ref r = 0; r < recs_.size(); ++r) {
    if (recs_[r].state == kFree) continue;
    size_t i = ipSlot(recs_[r].ip);
    while (by_ip_[i] != kNone) i = (i + 1) & mask;
    by_ip_[i] = r;
  }
  for (const KeySlot& s : old_keys) {
    if (s.ref == kNone) continue;
    size_t i = s.hash & mask;
    while (by_key_[i].ref != kNone) i = (i + 1) & mask;
    by_key_[i] = s;
  }
}

LeaseTable::Ref LeaseTable::insert(Ipv4 ip, State state, std::string_view key, const Mac& mac,
                                   int64_t until) {
  growIfNeeded();
  Ref r;
  if (free_head_ != kNone) {
    r = free_head_;
    free_head_ = recs_[r].extra;
  } else {
    r = Ref(recs_.size());
    recs_.emplace_back();
  }
  Rec& rec = recs_[r];
  rec.until = until;
  rec.ip = ip.toUint();
  rec.extra = 0;
  rec.mac = mac.bytes();
  rec.state = uint8_t(state);
  if (key.empty()) {
    rec.key_kind = kKeyNone;
  } else if (isMacKey(key, 'h', mac)) {
    rec.key_kind = kKeyMac;
  } else if (isMacKey(key, 'i', mac)) {
    rec.key_kind = kKeyIdMac;
  } else {
    rec.key_kind = kKeyExtra;
    extraFor(r).key.assign(key);
  }
  ++count_;
  const size_t mask = by_ip_.size() - 1;
  size_t i = ipSlot(ip.toUint());
  while (by_ip_[i] != kNone) i = (i + 1) & mask;
  by_ip_[i] = r;
  return r;
}

void LeaseTable::setCurrent(Ref r) {
  std::array<char, 8> buf;
  const std::string_view key = keyOf(r, buf);
  if (key.empty()) return;
  const uint32_t h = hashKey(key);
  const size_t mask = by_key_.size() - 1;
  std::array<char, 8> other;
  size_t i = h & mask;
  for (; by_key_[i].ref != kNone; i = (i + 1) & mask) {
    if (by_key_[i].hash == h && keyOf(by_key_[i].ref, other) == key) {
      by_key_[i].ref = r;
      return;
    }
  }
  by_key_[i] = KeySlot{h, r};
  ++keys_;
}

void LeaseTable::unindexKey(Ref r) {
  std::array<char, 8> buf;
  const std::string_view key = keyOf(r, buf);
  if (key.empty() || keys_ == 0) return;
  const uint32_t h = hashKey(key);
  const size_t mask = by_key_.size() - 1;
  for (size_t i = h & mask; by_key_[i].ref != kNone; i = (i + 1) & mask) {
    if (by_key_[i].ref == r) {
      eraseSlot(
          by_key_, i, KeySlot{0, kNone}, [](const KeySlot& s) { return s.ref == kNone; },
          [](const KeySlot& s) { return s.hash; });
      --keys_;
      return;
    }
  }
}

void LeaseTable::erase(Ref r) {
  unindexKey(r);
  Rec& rec = recs_[r];
  const size_t mask = by_ip_.size() - 1;
  for (size_t i = ipSlot(rec.ip);; i = (i + 1) & mask) {
    if (by_ip_[i] == r) {
      eraseSlot(
          by_ip_, i, kNone, [](Ref x) { return x == kNone; },
          [this](Ref x) { return hashIp(recs_[x].ip); });
      break;
    }
  }
  if (rec.extra != 0) {
    extras_[rec.extra - 1] = Extra{};
    free_extras_.push_back(rec.extra - 1);
  }
  rec = Rec{};
  rec.state = kFree;
  rec.extra = free_head_;
  free_head_ = r;
  --count_;
  shrinkIfSparse();
}

}  // namespace vnet::dhcp

// The DHCP server's in-memory index of the addresses it tracks (offered, leased,
// quarantined), built to hold tens of thousands of leases in little memory:
//  - one fixed-size record (24 bytes) per address in a slab whose freed slots are reused;
//  - two open-addressing hash tables of slab indices (linear probing, backward-shift
//    deletion, at most 70% full): by address, and by client identity;
//  - variable-size data (a host name, a client key other than an Ethernet MAC) in a side
//    table, only for the records that have some.
//
// A client key is the byte string the server derives from a request: "i" + option 61, or
// "h" + htype + chaddr[hlen] (server.cc). The two common keys, "h\x01" + MAC (no option 61)
// and "i\x01" + MAC (option 61 of type 1 holding the MAC, as udhcpc sends), are not stored:
// they are the record's MAC and a kind byte. A record owned by "i" + id reports id as its
// client identifier.
//
// The client index maps a key to one record, the client's current offer or lease. Several
// records may carry the same owner key (a lease and a newer offer elsewhere) while only one is
// current; erasing the current record leaves the key unmapped.
//
// Refs (slab indices) stay valid until their record is erased or the table is cleared.
// Thread-safety: none.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"

namespace vnet::dhcp {

class LeaseTable {
 public:
  using Ref = uint32_t;
  static constexpr Ref kNone = 0xffffffff;
  enum class State : uint8_t { kOffered = 1, kActive = 2, kDeclined = 3 };

  size_t size() const { return count_; }
  // Removes every record and releases the memory.
  void clear();

  // The record at ip, or kNone.
  Ref find(Ipv4 ip) const;
  // The current record of the client with this key, or kNone.
  Ref findClient(std::string_view key) const;

  // Adds a record for ip, which must not have one. key empty = owned by nobody. The record
  // does not become its key's current record (setCurrent does).
  Ref insert(Ipv4 ip, State state, std::string_view key, const Mac& mac, int64_t until);
  // Removes the record; when it was its key's current record, the key maps to nothing.
  void erase(Ref r);
  // Makes r (which has an owner) the current record of its owner's key.
  void setCurrent(Ref r);

  Ipv4 ip(Ref r) const { return Ipv4(recs_[r].ip); }
  State state(Ref r) const { return State(recs_[r].state); }
  void setState(Ref r, State s) { recs_[r].state = uint8_t(s); }
  int64_t until(Ref r) const { return recs_[r].until; }
  void setUntil(Ref r, int64_t until) { recs_[r].until = until; }
  Mac mac(Ref r) const { return Mac(recs_[r].mac); }
  void setMac(Ref r, const Mac& mac);
  bool hasOwner(Ref r) const { return recs_[r].key_kind != kKeyNone; }
  bool ownedBy(Ref r, std::string_view key) const;
  // Option 61 of the owner (type byte included) when its key is one; else empty.
  std::vector<uint8_t> clientId(Ref r) const;
  std::string_view hostname(Ref r) const;
  void setHostname(Ref r, std::string_view name);

  // Calls f(Ref) for every record, in no particular order. f must not insert or erase.
  template <class F>
  void forEach(F&& f) const {
    for (Ref r = 0; r < recs_.size(); ++r) {
      if (recs_[r].state != kFree) f(r);
    }
  }

  // Bytes of heap the table holds (capacity, not size), for tests and diagnostics.
  size_t memoryBytes() const;
  // Test hooks: the home slot of an address and of a key in a table of this capacity.
  static size_t TEST_ipHome(Ipv4 ip, size_t capacity);
  static size_t TEST_keyHome(std::string_view key, size_t capacity);

 private:
  static constexpr uint8_t kFree = 0;
  static constexpr uint8_t kKeyNone = 0;   // owned by nobody
  static constexpr uint8_t kKeyMac = 1;    // key = "h\x01" + mac
  static constexpr uint8_t kKeyExtra = 2;  // key in extras_[extra - 1].key
  static constexpr uint8_t kKeyIdMac = 3;  // key = "i\x01" + mac
  struct Rec {
    int64_t until;
    uint32_t ip;
    uint32_t extra;  // 1 + index into extras_, 0 = none; next free slot when free
    Mac::Bytes mac;
    uint8_t state;
    uint8_t key_kind;
  };
  static_assert(sizeof(Rec) == 24);
  struct Extra {
    std::string key;  // set when key_kind is kKeyExtra
    std::string hostname;
  };
  struct KeySlot {
    uint32_t hash;
    Ref ref;  // kNone: empty
  };
  // The key of r; buf holds it when it is the record's MAC.
  std::string_view keyOf(Ref r, std::array<char, 8>& buf) const;
  Extra& extraFor(Ref r);
  void releaseExtraIfEmpty(Ref r);
  void unindexKey(Ref r);
  size_t ipSlot(uint32_t ip) const;
  void growIfNeeded();
  void shrinkIfSparse();
  void rehash(size_t capacity);

  std::vector<Rec> recs_;
  uint32_t free_head_ = kNone;
  size_t count_ = 0;
  std::vector<Extra> extras_;
  std::vector<uint32_t> free_extras_;
  std::vector<Ref> by_ip_;       // power-of-two size or empty
  std::vector<KeySlot> by_key_;  // same size as by_ip_
  size_t keys_ = 0;
};

}  // namespace vnet::dhcp

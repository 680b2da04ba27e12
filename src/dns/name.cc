#include "dns/name.h"

#include <cstring>

namespace vnet::dns {

namespace {

// Compression pointers can only address the message body, which starts after the
// fixed 12-octet header (RFC 1035 §4.1.1).
constexpr size_t kHeaderSize = 12;

bool isPrintable(uint8_t c) {
  return c > 0x20 && c < 0x7F;
}

}  // namespace

bool wireNamesEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (foldCase(a[i]) != foldCase(b[i])) return false;
  }
  return true;
}

bool operator==(const Name& a, const Name& b) {
  return wireNamesEqual(a.wire(), b.wire());
}

Result<Name> Name::parse(std::string_view text) {
  Name n;
  if (text.empty() || text == ".") return n;
  std::array<uint8_t, kMaxNameLength> buf{};
  size_t out = 0;
  size_t labelStart = 0;  // index of the current label's length octet
  size_t labelLen = 0;
  bool labelOpen = false;
  auto open = [&]() -> bool {
    if (labelOpen) return true;
    if (out + 1 >= kMaxNameLength) return false;
    labelStart = out++;
    labelLen = 0;
    labelOpen = true;
    return true;
  };
  auto put = [&](uint8_t c) -> bool {
    if (!open()) return false;
    // Room must remain for the root octet.
    if (labelLen == kMaxLabelLength || out + 1 >= kMaxNameLength) return false;
    buf[out++] = c;
    ++labelLen;
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (!labelOpen) return Error::invalid("empty label in name '" + std::string(text) + "'");
      if (i + 1 == text.size()) break;  // trailing dot: fully qualified, same name
      buf[labelStart] = uint8_t(labelLen);
      labelOpen = false;
      continue;
    }
    uint8_t byte = uint8_t(c);
    if (c == '\\') {
      // RFC 1035 §5.1: "\X" is X, "\DDD" is the octet with decimal value DDD.
      if (i + 1 >= text.size()) return Error::invalid("dangling escape in name");
      char e = text[i + 1];
      if (e >= '0' && e <= '9') {
        if (i + 3 >= text.size()) return Error::invalid("short \\DDD escape in name");
        unsigned v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char d = text[i + k];
          if (d < '0' || d > '9') return Error::invalid("bad \\DDD escape in name");
          v = v * 10 + unsigned(d - '0');
        }
        if (v > 255) return Error::invalid("bad \\DDD escape in name");
        byte = uint8_t(v);
        i += 3;
      } else {
        byte = uint8_t(e);
        i += 1;
      }
    }
    if (!put(byte)) {
      return Error::invalid("name too long (label max 63, name max 255 octets): '" +
                            std::string(text.substr(0, 80)) + "'");
    }
  }
  if (labelOpen) buf[labelStart] = uint8_t(labelLen);
  buf[out++] = 0;
  std::memcpy(n.wire_.data(), buf.data(), out);
  n.size_ = uint8_t(out);
  return n;
}

Result<Name> Name::read(ByteReader& r) {
  if (!r.ok()) return Error::invalid("truncated message before name");
  const std::span<const uint8_t> msg = r.whole();
  size_t pos = r.pos();
  size_t limit = pos;  // a pointer must address something strictly before this offset
  size_t resume = 0;   // where the reader continues after the first pointer
  bool jumped = false;
  Name n;
  size_t out = 0;
  for (;;) {
    if (pos >= msg.size()) return Error::invalid("truncated name");
    const uint8_t len = msg[pos];
    if ((len & 0xC0) == 0xC0) {
      // RFC 1035 §4.1.4 compression pointer. Requiring every pointer to go strictly
      // below the previous one bounds the walk and rejects loops and forward pointers.
      if (pos + 1 >= msg.size()) return Error::invalid("truncated compression pointer");
      const size_t target = (size_t(len & 0x3F) << 8) | msg[pos + 1];
      if (target < kHeaderSize || target >= limit) {
        return Error::invalid("compression pointer to offset " + std::to_string(target) +
                              " not before offset " + std::to_string(limit));
      }
      if (!jumped) {
        resume = pos + 2;
        jumped = true;
      }
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xC0) != 0) {
      // 0x40/0x80: extended label types, deprecated by RFC 6891 §5.
      return Error::invalid("unsupported label type");
    }
    if (len == 0) {
      if (out + 1 > kMaxNameLength) return Error::invalid("name longer than 255 octets");
      n.wire_[out++] = 0;
      ++pos;
      break;
    }
    // Keep one octet for the root label.
    if (out + 1 + len + 1 > kMaxNameLength) return Error::invalid("name longer than 255 octets");
    if (pos + 1 + len > msg.size()) return Error::invalid("truncated label");
    std::memcpy(&n.wire_[out], &msg[pos], 1 + size_t(len));
    out += 1 + size_t(len);
    pos += 1 + size_t(len);
  }
  n.size_ = uint8_t(out);
  r.seek(jumped ? resume : pos);
  return n;
}

Result<Name> Name::fromWire(std::span<const uint8_t> wire) {
  Name n;
  size_t pos = 0;
  for (;;) {
    if (pos >= wire.size()) return Error::invalid("unterminated wire name");
    const uint8_t len = wire[pos];
    if (len > kMaxLabelLength) return Error::invalid("bad label length in wire name");
    if (pos + 1 + len > wire.size() || pos + 1 + len + (len ? 1 : 0) > kMaxNameLength) {
      return Error::invalid("wire name too long or truncated");
    }
    pos += 1 + size_t(len);
    if (len == 0) break;
  }
  std::memcpy(n.wire_.data(), wire.data(), pos);
  n.size_ = uint8_t(pos);
  return n;
}

size_t Name::labelCount() const {
  size_t n = 0;
  for (size_t pos = 0; wire_[pos] != 0; pos += 1 + size_t(wire_[pos])) ++n;
  return n;
}

std::string_view Name::label(size_t i) const {
  size_t pos = 0;
  for (; i > 0 && wire_[pos] != 0; --i) pos += 1 + size_t(wire_[pos]);
  return {reinterpret_cast<const char*>(&wire_[pos + 1]), wire_[pos]};
}

std::string Name::toString() const {
  if (isRoot()) return ".";
  std::string s;
  s.reserve(size_);
  for (size_t pos = 0; wire_[pos] != 0; pos += 1 + size_t(wire_[pos])) {
    if (pos != 0) s += '.';
    for (size_t k = 1; k <= wire_[pos]; ++k) {
      const uint8_t c = wire_[pos + k];
      if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' ||
          c == '$') {
        s += '\\';
        s += char(c);
      } else if (!isPrintable(c)) {
        char esc[5];
        esc[0] = '\\';
        esc[1] = char('0' + c / 100);
        esc[2] = char('0' + (c / 10) % 10);
        esc[3] = char('0' + c % 10);
        esc[4] = 0;
        s += esc;
      } else {
        s += char(c);
      }
    }
  }
  return s;
}

Name Name::lowered() const {
  Name n = *this;
  for (size_t i = 0; i < size_; ++i) n.wire_[i] = foldCase(wire_[i]);
  return n;
}

bool Name::isUnder(const Name& suffix) const {
  const size_t mine = labelCount();
  const size_t theirs = suffix.labelCount();
  if (theirs > mine) return false;
  size_t pos = 0;
  for (size_t skip = mine - theirs; skip > 0; --skip) pos += 1 + size_t(wire_[pos]);
  return wireNamesEqual(std::span<const uint8_t>(&wire_[pos], size_ - pos), suffix.wire());
}

Result<Name> Name::concat(const Name& suffix) const {
  const size_t total = size_ - 1 + suffix.size_;
  if (total > kMaxNameLength) return Error::invalid("name longer than 255 octets");
  Name n;
  std::memcpy(n.wire_.data(), wire_.data(), size_ - 1u);
  std::memcpy(n.wire_.data() + size_ - 1, suffix.wire_.data(), suffix.size_);
  n.size_ = uint8_t(total);
  return n;
}

Name Name::parent() const {
  if (isRoot()) return *this;
  Name n;
  const size_t skip = 1 + size_t(wire_[0]);
  std::memcpy(n.wire_.data(), wire_.data() + skip, size_ - skip);
  n.size_ = uint8_t(size_ - skip);
  return n;
}

size_t Name::hash() const {
  // FNV-1a over the case-folded wire form.
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size_; ++i) {
    h ^= foldCase(wire_[i]);
    h *= 1099511628211ull;
  }
  return size_t(h);
}

}  // namespace vnet::dns

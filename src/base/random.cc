#include "base/random.h"

#include <sys/random.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vnet {

void randomBytes(void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::abort();  // the kernel CSPRNG failing is not recoverable
    }
    p += got;
    n -= size_t(got);
  }
}

uint32_t randomU32() {
  // getrandom() output taken 256 bytes at a time: one system call per 64 values.
  struct Pool {
    uint8_t bytes[256];
    size_t used = sizeof(bytes);
  };
  static thread_local Pool pool;
  if (pool.used + sizeof(uint32_t) > sizeof(pool.bytes)) {
    randomBytes(pool.bytes, sizeof(pool.bytes));
    pool.used = 0;
  }
  uint32_t v;
  std::memcpy(&v, pool.bytes + pool.used, sizeof(v));
  pool.used += sizeof(v);
  return v;
}

std::string randomUuid() {
  uint8_t b[16];
  randomBytes(b, sizeof(b));
  b[6] = uint8_t((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = uint8_t((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace vnet

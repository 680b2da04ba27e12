// Randomness for identifiers (UUIDs, MACs, DNS IDs/ports). Uses getrandom(2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vnet {

// Fills buf with n random bytes from the kernel CSPRNG.
void randomBytes(void* buf, size_t n);
// A random value from the same CSPRNG, drawn from a per-thread buffer of its output.
uint32_t randomU32();
// A random RFC 4122 version 4 UUID in its 36-character lower-case text form.
std::string randomUuid();
// True when s is a 36-character UUID in 8-4-4-4-12 hex form (either case).
bool isUuid(const std::string& s);

}  // namespace vnet

// Readers for /proc files the probe needs, split into pure parsers (unit-tested on
// fabricated text) and small walkers over a proc root (a temp tree in tests).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "doctor/facts.h"

namespace vnet::doctor {

// Parses /proc/net/{udp,tcp,udp6,tcp6} (the text of one file): unconnected UDP sockets
// (state 07) or listening TCP sockets (state 0A), owners left empty. Addresses are decoded
// as the kernel prints them: each 32-bit word in the host's byte order. Malformed lines
// are skipped.
std::vector<SocketFact> parseProcNet(std::string_view content, const std::string& proto, bool v6);

// Maps socket inodes to the processes that hold them, from the links
// `procRoot`/PID/fd/N -> "socket:[INODE]" and names from `procRoot`/PID/comm. Processes
// that vanish or cannot be read are skipped.
std::map<uint64_t, std::vector<ProcessRef>> socketOwners(const std::string& procRoot);

// The bound sockets of the calling thread's network namespace with their owners:
// `procRoot`/net/{udp,udp6,tcp,tcp6}. Errors name the file that could not be read.
Result<std::vector<SocketFact>> listSockets(const std::string& procRoot);

// The content of a small text file, or an error naming it.
Result<std::string> readTextFile(const std::string& path);

}  // namespace vnet::doctor

// Shared plumbing for vnetctl's verb groups.
#pragma once

#include <CLI/CLI.hpp>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/client.h"

namespace vnetctl {

struct Globals {
  std::string socket;
  std::string output = "text";     // text | json
  int64_t ownerSlot = -1;          // port-add --owner
  int parentIndex = -1;            // net-update --parent-index
  std::vector<std::string> words;  // capture's filter words
  int exitStatus = 0;  // main's exit status when the verb succeeds (doctor: 2 on errors)
  bool json() const { return output == "json"; }
  vnet::api::Client client() const { return vnet::api::Client(socket); }
  // Storage for a verb's string options; references stay valid for the program's life.
  std::string* slot() { return &slots_.emplace_back(); }
  bool* flagSlot() { return &flags_.emplace_back(false); }

 private:
  std::deque<std::string> slots_;
  std::deque<bool> flags_;
};

// Thrown by verbs to end with a one-line error on stderr and exit status 1.
struct Failure {
  std::string message;
};

// Calls the API; throws Failure with the server's detail on error.
std::string call(const Globals& g, const std::string& method, const std::string& target,
                 const std::string& body = {}, const std::string& contentType = "application/json");
nlohmann::json callJson(const Globals& g, const std::string& method, const std::string& target,
                        const std::string& body = {},
                        const std::string& contentType = "application/json");
std::string networkPath(const std::string& name);  // "/v1/networks/<encoded>"
// The whole file; a file over the API's request limit (api::kMaxBodyBytes) is refused here
// with a message naming its size and the limit.
std::string readInputFile(const std::string& path);
const char* yesNo(bool b);

// Prints rows in virsh's table style: a header, a dashed rule, left-aligned columns.
void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

void addNetVerbs(CLI::App& app, Globals& g);
void addPortVerbs(CLI::App& app, Globals& g);
void addTraceVerbs(CLI::App& app, Globals& g);
void addDoctorVerbs(CLI::App& app, Globals& g);
void addRepairVerbs(CLI::App& app, Globals& g);
void addObserveVerbs(CLI::App& app, Globals& g);

}  // namespace vnetctl

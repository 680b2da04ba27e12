// vnetctl: the CLI of vnetd. Verbs follow `virsh net-*`; -o json on every read verb.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cmd/vnetctl/cli.h"

namespace vnetctl {

std::string call(const Globals& g, const std::string& method, const std::string& target,
                 const std::string& body, const std::string& contentType) {
  auto r = g.client().call(method, target, body, contentType);
  if (!r) throw Failure{r.error().message()};
  return std::move(*r);
}

nlohmann::json callJson(const Globals& g, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& contentType) {
  std::string text = call(g, method, target, body, contentType);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Failure{"vnetd sent an answer that is not JSON"};
  return j;
}

std::string networkPath(const std::string& name) {
  return "/v1/networks/" + vnet::api::urlEncode(name);
}

std::string readInputFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure{"cannot read " + path + ": " + std::strerror(errno)};
  // vnetd takes at most kMaxBodyBytes per request; say so before sending a file that big.
  constexpr size_t kLimit = vnet::api::kMaxBodyBytes;
  std::string out;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > kLimit) {
      in.seekg(0, std::ios::end);
      auto end = in.tellg();
      std::string size = end > 0 ? std::to_string(static_cast<long long>(end))
                                 : "more than " + std::to_string(kLimit);
      throw Failure{path + ": file of " + size + " bytes exceeds the limit of " +
                    std::to_string(kLimit) + " bytes"};
    }
  }
  if (in.bad()) throw Failure{"cannot read " + path + ": " + std::strerror(errno)};
  return out;
}

const char* yesNo(bool b) {
  return b ? "yes" : "no";
}

void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = " ";
    for (size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size()) s += std::string(width[i] - cells[i].size() + 3, ' ');
    }
    std::cout << s << "\n";
  };
  line(header);
  size_t total = 1;
  for (size_t w : width) total += w + 3;
  std::cout << std::string(total, '-') << "\n";
  for (const auto& r : rows) line(r);
  std::cout << "\n";
}

}  // namespace vnetctl

int main(int argc, char** argv) {
  CLI::App app{"vnetctl: manage vnet virtual networks (talks to vnetd)"};
  app.require_subcommand(1);
  vnetctl::Globals g;
  const char* env = std::getenv("VNET_SOCKET");
  g.socket = env && *env ? env : "/run/vnet/vnetd.sock";
  app.add_option("--socket", g.socket, "vnetd's API socket (or VNET_SOCKET)")
      ->capture_default_str();
  app.add_option("-o,--output", g.output, "output format of read verbs")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  vnetctl::addNetVerbs(app, g);
  vnetctl::addPortVerbs(app, g);
  vnetctl::addTraceVerbs(app, g);
  vnetctl::addDoctorVerbs(app, g);
  vnetctl::addRepairVerbs(app, g);
  vnetctl::addObserveVerbs(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const vnetctl::Failure& f) {
    std::cerr << "error: " << f.message << "\n";
    return 1;
  }
  return g.exitStatus;
}

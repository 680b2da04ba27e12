#include "api/router.h"

namespace vnet::api {

namespace {
std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& parts,
           Params& params) {
  if (pattern.size() != parts.size()) return false;
  Params captured;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const auto& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      captured[p.substr(1, p.size() - 2)] = parts[i];
    } else if (p != parts[i]) {
      return false;
    }
  }
  params = std::move(captured);
  return true;
}
}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back(Route{std::move(method), splitPath(pattern), std::move(handler)});
}

Response Router::route(const Request& req) const {
  auto parts = splitPath(req.path);
  bool pathKnown = false;
  for (const auto& r : routes_) {
    Params params;
    if (!match(r.segments, parts, params)) continue;
    pathKnown = true;
    if (r.method == req.method) return r.handler(req, params);
  }
  if (pathKnown) {
    Response r = errorResponse(Error::invalid(req.method + " is not allowed on " + req.path));
    r.status = 405;
    return r;
  }
  return errorResponse(Error::notFound("no such resource: " + req.path));
}

}  // namespace vnet::api

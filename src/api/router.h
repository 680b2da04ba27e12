// Routes requests to handlers by method and path pattern ("/v1/networks/{name}/start").
// Unknown paths give 404, known paths with another method 405.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http.h"

namespace vnet::api {

using Params = std::map<std::string, std::string>;
using Handler = std::function<Response(const Request&, const Params&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  Response route(const Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{x}" captures one segment
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace vnet::api

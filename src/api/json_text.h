// JSON text for the API and the CLI. Strings may hold bytes from users (names, XML, error
// details quoting input) that are not valid UTF-8; they are replaced by U+FFFD instead of
// throwing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vnet::api {

inline std::string jsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vnet::api

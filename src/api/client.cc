#include "api/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <limits>

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;

Result<ClientResponse> Client::request(const std::string& method, const std::string& target,
                                       const std::string& body) const {
  asio::io_context io;
  Local::socket socket(io);
  beast::error_code ec;
  socket.connect(Local::endpoint(socketPath_), ec);
  if (ec) {
    return Error("cannot reach vnetd at " + socketPath_ + ": " + ec.message() +
                     " (is vnetd running? use --socket or VNET_SOCKET)",
                 ec.value());
  }
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "vnetd");
  req.set(http::field::user_agent, "vnetctl");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  http::write(socket, req, ec);
  if (ec) return Error("sending request to vnetd: " + ec.message(), ec.value());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(socket, buffer, parser, ec);
  if (ec) return Error("reading vnetd's answer: " + ec.message(), ec.value());
  return ClientResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

Result<std::string> Client::call(const std::string& method, const std::string& target,
                                 const std::string& body) const {
  auto r = request(method, target, body);
  if (!r) return std::move(r).error();
  if (r->status >= 200 && r->status < 300) return std::move(r->body);
  std::string detail = r->body;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_object() && j.contains("detail") && j["detail"].is_string()) {
    detail = j["detail"].get<std::string>();
  }
  return Error(errorCodeForStatus(r->status), detail);
}

Status Client::stream(const std::string& target, const std::function<void(int fd)>& onOpen,
                      const std::function<bool(std::string_view)>& onData) const {
  asio::io_context io;
  Local::socket socket(io);
  beast::error_code ec;
  socket.connect(Local::endpoint(socketPath_), ec);
  if (ec) {
    return Error("cannot reach vnetd at " + socketPath_ + ": " + ec.message() +
                     " (is vnetd running? use --socket or VNET_SOCKET)",
                 ec.value());
  }
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "vnetd");
  req.set(http::field::user_agent, "vnetctl");
  req.keep_alive(false);
  http::write(socket, req, ec);
  if (ec) return Error("sending request to vnetd: " + ec.message(), ec.value());

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares a Content-Length against an empty limit as
  // "exceeded".
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read_header(socket, buffer, parser, ec);
  if (ec) return Error("reading vnetd's answer: " + ec.message(), ec.value());
  const int status = static_cast<int>(parser.get().result_int());
  if (status < 200 || status >= 300) {
    // An error answer is small: read it whole, like call().
    http::response_parser<http::string_body> whole(std::move(parser));
    whole.body_limit(1u << 20);
    http::read(socket, buffer, whole, ec);
    if (ec) return Error("reading vnetd's answer: " + ec.message(), ec.value());
    std::string detail = whole.get().body();
    auto j = nlohmann::json::parse(detail, nullptr, false);
    if (j.is_object() && j.contains("detail") && j["detail"].is_string()) {
      detail = j["detail"].get<std::string>();
    }
    return Error(errorCodeForStatus(status), detail);
  }
  if (onOpen) onOpen(socket.native_handle());
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // read_some: hand over what arrived instead of waiting for a full buffer.
    http::read_some(socket, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == asio::error::interrupted) continue;
    if (ec) return Error("reading from vnetd: " + ec.message(), ec.value());
    size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0 && !onData(std::string_view(chunk, n))) return Status::success();
  }
  return Status::success();
}

std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace vnet::api

#include "api/client.h"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;

Result<ClientResponse> Client::request(const std::string& method, const std::string& target,
                                       const std::string& body,
                                       const std::string& contentType) const {
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
  if (!body.empty()) req.set(http::field::content_type, contentType);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  beast::error_code writeError;
  http::write(socket, req, writeError);
  // A write cut short (EPIPE) may mean vnetd refused the request early and answered why.
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(socket, buffer, parser, ec);
  if (ec && writeError) {
    return Error("sending request to vnetd: " + writeError.message(), writeError.value());
  }
  if (ec) return Error("reading vnetd's answer: " + ec.message(), ec.value());
  return ClientResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

Status Client::stream(const std::string& method, const std::string& target,
                      const std::function<bool(std::string_view)>& onData,
                      const std::function<void(int fd)>& onOpen) const {
  asio::io_context io;
  Local::socket socket(io);
  beast::error_code ec;
  socket.connect(Local::endpoint(socketPath_), ec);
  if (ec) {
    return Error("cannot reach vnetd at " + socketPath_ + ": " + ec.message() +
                     " (is vnetd running? use --socket or VNET_SOCKET)",
                 ec.value());
  }
  http::request<http::empty_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "vnetd");
  req.set(http::field::user_agent, "vnetctl");
  req.keep_alive(false);
  http::write(socket, req, ec);
  if (ec) return Error("sending request to vnetd: " + ec.message(), ec.value());

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  // No practical limit (a trace may run for hours). Not boost::none: Boost 1.74 then
  // refuses every body with a Content-Length.
  parser.body_limit(std::uint64_t{1} << 62);
  http::read_header(socket, buffer, parser, ec);
  if (ec) return Error("reading vnetd's answer: " + ec.message(), ec.value());
  const int status = static_cast<int>(parser.get().result_int());
  const bool ok = status >= 200 && status < 300;
  std::string errorBody;
  if (ok && onOpen) onOpen(socket.native_handle());
  std::array<char, 64 * 1024> piece;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    // read_some: hand on whatever arrived rather than wait for a full buffer.
    http::read_some(socket, buffer, parser, ec);
    if (ec == http::error::need_buffer || ec == asio::error::interrupted) ec = {};
    size_t n = piece.size() - parser.get().body().size;
    if (n > 0) {
      std::string_view data(piece.data(), n);
      if (!ok) {
        errorBody.append(data);
      } else if (!onData(data)) {
        return Status::success();
      }
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == http::error::partial_message) {
      break;  // the server closed; what arrived was handed on
    }
    if (ec) return Error("reading vnetd's answer: " + ec.message(), ec.value());
  }
  if (ok) return Status::success();
  std::string detail = errorBody;
  auto j = nlohmann::json::parse(errorBody, nullptr, false);
  if (j.is_object() && j.contains("detail") && j["detail"].is_string()) {
    detail = j["detail"].get<std::string>();
  }
  return Error(errorCodeForStatus(status), detail);
}

Result<std::string> Client::call(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& contentType) const {
  auto r = request(method, target, body, contentType);
  if (!r) return std::move(r).error();
  if (r->status >= 200 && r->status < 300) return std::move(r->body);
  std::string detail = r->body;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_object() && j.contains("detail") && j["detail"].is_string()) {
    detail = j["detail"].get<std::string>();
  }
  return Error(errorCodeForStatus(r->status), detail);
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

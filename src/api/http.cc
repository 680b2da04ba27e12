#include "api/http.h"

#include "api/json_text.h"

#include <nlohmann/json.hpp>

#include <cerrno>

namespace vnet::api {

int httpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::Invalid: return 400;
    case ErrorCode::NotFound: return 404;
    case ErrorCode::Conflict: return 409;
    case ErrorCode::TooLarge: return 413;
    case ErrorCode::Unsupported: return 422;
    case ErrorCode::Internal: return 500;
  }
  return 500;
}

ErrorCode errorCodeForStatus(int status) {
  switch (status) {
    case 400: return ErrorCode::Invalid;
    case 404: return ErrorCode::NotFound;
    case 409: return ErrorCode::Conflict;
    case 413: return ErrorCode::TooLarge;
    case 422: return ErrorCode::Unsupported;
    default: return ErrorCode::Internal;
  }
}

namespace {
const char* reasonFor(int status) {
  switch (status) {
    case 400: return "invalid";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "too large";
    case 422: return "not supported";
    default: return "internal error";
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) {
        return Error::invalid("malformed percent escape in request target");
      }
      int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return Error::invalid("malformed percent escape in request target");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}
}  // namespace

Response errorResponse(const Error& e) {
  int status = httpStatusFor(e.code());
  // Kernel errors carry an errno rather than a code: "File exists" is a conflict, a
  // missing device is not found.
  if (e.code() == ErrorCode::Internal) {
    switch (e.sysErrno()) {
      case EEXIST: case EBUSY: case EADDRINUSE: status = 409; break;
      case ENODEV: case ENOENT: case ESRCH: status = 404; break;
      case EINVAL: case ERANGE: status = 400; break;
      default: break;
    }
  }
  nlohmann::json j = {{"error", reasonFor(status)}, {"detail", e.message()}};
  return Response{status, jsonText(j) + "\n", "application/json"};
}

namespace {

class PullSource final : public StreamSource, public std::enable_shared_from_this<PullSource> {
 public:
  explicit PullSource(std::function<bool(std::string&)> next) : next_(std::move(next)) {}
  void start(std::shared_ptr<StreamSink> sink) override {
    sink_ = std::move(sink);
    drained();
  }
  void stop() override {
    next_ = nullptr;  // releases what the producer holds
    sink_.reset();
  }
  void drained() override {
    if (!sink_ || !next_) return;
    std::string piece;
    bool more = true;
    while (more && piece.size() < kPieceBytes) more = next_(piece);
    if (!piece.empty()) sink_->write(std::move(piece));
    if (!more) {
      next_ = nullptr;
      sink_->close();
    }
  }

 private:
  static constexpr size_t kPieceBytes = 64 << 10;
  std::function<bool(std::string&)> next_;
  std::shared_ptr<StreamSink> sink_;
};

class CollectSink final : public StreamSink {
 public:
  void write(std::string chunk) override { text += chunk; }
  void close() override { closed = true; }
  size_t buffered() const override { return 0; }  // collected at once
  std::string text;
  bool closed = false;
};

}  // namespace

std::shared_ptr<StreamSource> pullStream(std::function<bool(std::string& out)> next) {
  return std::make_shared<PullSource>(std::move(next));
}

std::string bodyText(Response& r) {
  if (!r.stream) return r.body;
  auto sink = std::make_shared<CollectSink>();
  r.stream->start(sink);
  // Each drained() produces the next piece; a source that produces nothing on demand
  // (events, traces) ends the collection at once.
  for (size_t before = 0; !sink->closed && sink->text.size() > before;) {
    before = sink->text.size();
    r.stream->drained();
  }
  r.stream->stop();
  r.stream.reset();
  return std::move(sink->text);
}

Response jsonResponse(int status, const std::string& body) {
  return Response{status, body, "application/json"};
}

Status parseTarget(const std::string& target, Request& out) {
  std::string_view t = target;
  auto q = t.find('?');
  auto path = percentDecode(t.substr(0, q), false);
  if (!path) return std::move(path).error();
  out.path = std::move(*path);
  out.query.clear();
  if (q == std::string_view::npos) return Status::success();
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    auto key = percentDecode(pair.substr(0, eq), true);
    if (!key) return std::move(key).error();
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percentDecode(pair.substr(eq + 1), true);
      if (!v) return std::move(v).error();
      value = std::move(*v);
    }
    if (!key->empty()) out.query[*key] = std::move(value);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return Status::success();
}

}  // namespace vnet::api

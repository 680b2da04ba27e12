#include "api/http.h"

#include <cctype>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "api/json_text.h"
#include "base/hex.h"

namespace vnet::api {

int httpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::Invalid:
      return 400;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::Conflict:
      return 409;
    case ErrorCode::TooLarge:
      return 413;
    case ErrorCode::Unavailable:
      return 503;
    case ErrorCode::Unsupported:
      return 422;
    case ErrorCode::Internal:
      return 500;
  }
  return 500;
}

ErrorCode errorCodeForStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::Invalid;
    case 404:
      return ErrorCode::NotFound;
    case 409:
      return ErrorCode::Conflict;
    case 413:
      return ErrorCode::TooLarge;
    case 503:
      return ErrorCode::Unavailable;
    case 422:
      return ErrorCode::Unsupported;
    default:
      return ErrorCode::Internal;
  }
}

namespace {
const char* reasonFor(int status) {
  switch (status) {
    case 400:
      return "invalid";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 409:
      return "conflict";
    case 413:
      return "too large";
    case 422:
      return "not supported";
    case 503:
      return "unavailable";
    default:
      return "internal error";
  }
}

// Decodes one part of the request target; `base` is its offset in the target (for messages).
Result<std::string> percentDecode(std::string_view s, bool plusIsSpace, size_t base) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      std::string_view escape = s.substr(i, 3);
      if (escape.size() < 3 || hexDigitValue(escape[1]) < 0 || hexDigitValue(escape[2]) < 0) {
        return Error::invalid("request target: malformed percent escape '" + std::string(escape) +
                              "' at offset " + std::to_string(base + i) +
                              " (expected % and two hex digits)");
      }
      out.push_back(static_cast<char>(hexDigitValue(escape[1]) * 16 + hexDigitValue(escape[2])));
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
      case EEXIST:
      case EBUSY:
      case EADDRINUSE:
        status = 409;
        break;
      case ENODEV:
      case ENOENT:
      case ESRCH:
        status = 404;
        break;
      case EINVAL:
      case ERANGE:
        status = 400;
        break;
      default:
        break;
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

std::string mediaType(std::string_view contentType) {
  std::string out(contentType.substr(0, contentType.find(';')));
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  size_t first = out.find_first_not_of(" \t");
  out.erase(0, first == std::string::npos ? out.size() : first);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status parseTarget(const std::string& target, Request& out) {
  std::string_view t = target;
  auto q = t.find('?');
  auto path = percentDecode(t.substr(0, q), false, 0);
  if (!path) return std::move(path).error();
  out.path = std::move(*path);
  out.query.clear();
  if (q == std::string_view::npos) return Status::success();
  size_t offset = q + 1;
  std::string_view rest = t.substr(offset);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    auto key = percentDecode(pair.substr(0, eq), true, offset);
    if (!key) return std::move(key).error();
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percentDecode(pair.substr(eq + 1), true, offset + eq + 1);
      if (!v) return std::move(v).error();
      value = std::move(*v);
    }
    if (!key->empty()) {
      if (out.query.count(*key)) {
        return Error::invalid("request target: query parameter '" + *key + "' is given twice");
      }
      out.query[*key] = std::move(value);
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
    offset += amp + 1;
  }
  return Status::success();
}

}  // namespace vnet::api

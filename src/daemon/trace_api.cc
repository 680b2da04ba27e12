#include "daemon/trace_api.h"

#include <charconv>
#include <vector>

namespace vnet::daemon {
namespace {

// Both ends of one trace: the Tracer's output and the HTTP stream's source. Records sent
// before the response headers are out are kept until start().
class TraceStream final : public api::StreamSource, public TraceOutput {
 public:
  explicit TraceStream(Tracer& tracer) : tracer_(tracer) {}
  void setId(unsigned id) { id_ = id; }

  void send(const api::TraceRecord& r) override { write(api::traceLine(r)); }
  void close() override {
    closed_ = true;
    if (sink_) sink_->close();
  }
  void start(std::shared_ptr<api::StreamSink> sink) override {
    sink_ = std::move(sink);
    for (auto& line : pending_) sink_->write(std::move(line));
    pending_.clear();
    if (closed_) sink_->close();
  }
  void stop() override {
    sink_.reset();
    if (!closed_) {
      closed_ = true;
      tracer_.cancel(id_);
    }
  }

 private:
  void write(std::string line) {
    if (sink_) {
      sink_->write(std::move(line));
    } else if (!closed_) {
      pending_.push_back(std::move(line));
    }
  }

  Tracer& tracer_;
  unsigned id_ = 0;
  std::shared_ptr<api::StreamSink> sink_;
  std::vector<std::string> pending_;
  bool closed_ = false;
};

Result<unsigned> number(const api::Request& r, const char* key) {
  auto it = r.query.find(key);
  if (it == r.query.end() || it->second.empty()) return 0u;
  unsigned v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return Error::invalid(std::string(key) + ": '" + s + "' is not a whole number");
  }
  return v;
}

std::string text(const api::Request& r, const char* key) {
  auto it = r.query.find(key);
  return it == r.query.end() ? "" : it->second;
}

}  // namespace

void addTraceRoutes(api::Router& router, Tracer& tracer) {
  router.add(
      "GET", "/v1/networks/{name}/trace", [&tracer](const api::Request& req, const api::Params& p) {
        TraceRequest t;
        t.network = p.at("name");
        t.port = text(req, "port");
        t.to = text(req, "to");
        t.proto = text(req, "proto");
        auto count = number(req, "count");
        if (!count) return api::errorResponse(count.error());
        auto duration = number(req, "duration");
        if (!duration) return api::errorResponse(duration.error());
        t.count = *count;
        t.duration = *duration;
        for (const auto& [key, value] : req.query) {
          if (key != "port" && key != "to" && key != "proto" && key != "count" &&
              key != "duration") {
            return api::errorResponse(Error::invalid(
                "unknown parameter '" + key + "' (known: port, to, proto, count, duration)"));
          }
        }
        auto stream = std::make_shared<TraceStream>(tracer);
        auto id = tracer.start(t, stream);
        if (!id) return api::errorResponse(id.error());
        stream->setId(*id);
        api::Response r;
        r.contentType = "application/x-ndjson";
        r.stream = std::move(stream);
        return r;
      });
}

}  // namespace vnet::daemon

#include "metrics/exposition.h"

#include <cmath>
#include <cstdio>

namespace vnet::metrics {

namespace {

bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

const char* typeName(Type t) {
  return t == Type::Counter ? "counter" : "gauge";
}

std::string formatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

bool Exposition::validMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = isAlpha(c) || c == '_' || c == ':' || (i > 0 && isDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool Exposition::validLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(isAlpha(c) || c == '_' || (i > 0 && isDigit(c)))) return false;
  }
  return true;
}

std::string Exposition::escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Exposition::escapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Exposition::Family* Exposition::find(const std::string& name) {
  for (auto& f : families_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status Exposition::declare(const std::string& name, Type type, const std::string& help) {
  if (!validMetricName(name)) return Error::invalid("invalid metric name '" + name + "'");
  if (type == Type::Counter && !name.ends_with("_total")) {
    return Error::invalid("counter '" + name + "' must end in _total");
  }
  if (Family* f = find(name)) {
    if (f->type != type) return Error::invalid("metric '" + name + "' declared with two types");
    return Status::success();
  }
  families_.push_back(Family{name, type, help, {}});
  return Status::success();
}

Status Exposition::addRendered(const std::string& name, const Labels& labels, std::string value) {
  Family* f = find(name);
  if (!f) return Error::invalid("metric '" + name + "' was not declared");
  std::string rendered;
  if (!labels.empty()) {
    rendered = "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      const auto& [k, v] = labels[i];
      if (!validLabelName(k)) return Error::invalid("invalid label name '" + k + "'");
      for (size_t j = 0; j < i; ++j) {
        if (labels[j].first == k) return Error::invalid("label '" + k + "' given twice");
      }
      if (i > 0) rendered += ",";
      rendered += k + "=\"" + escapeLabelValue(v) + "\"";
    }
    rendered += "}";
  }
  for (const auto& s : f->samples) {
    if (s.labels == rendered) {
      return Error::invalid("metric '" + name + "' has two samples with labels " + rendered);
    }
  }
  f->samples.push_back(Sample{std::move(rendered), std::move(value)});
  return Status::success();
}

Status Exposition::add(const std::string& name, const Labels& labels, uint64_t value) {
  return addRendered(name, labels, std::to_string(value));
}

Status Exposition::add(const std::string& name, const Labels& labels, double value) {
  return addRendered(name, labels, formatDouble(value));
}

std::string Exposition::text() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + escapeHelp(f.help) + "\n";
    out += "# TYPE " + f.name + " " + typeName(f.type) + "\n";
    for (const auto& s : f.samples) out += f.name + s.labels + " " + s.value + "\n";
  }
  return out;
}

}  // namespace vnet::metrics

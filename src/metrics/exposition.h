// Prometheus text exposition format 0.0.4: metric families with HELP and TYPE lines,
// then their samples, `name{label="value",...} value`. Pure formatting, no I/O.
//
// Families are written in the order they were declared, each with all its samples
// together (the format requires that). Names are checked against the Prometheus rules:
// [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* (no "__" prefix) for
// labels, and counters end in "_total".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace vnet::metrics {

enum class Type { Counter, Gauge };

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Declares a family. Declaring the same name again with the same type is a no-op;
  // with another type, or an invalid name, it is an error.
  Status declare(const std::string& name, Type type, const std::string& help);
  // Adds a sample to a declared family. Errors: undeclared family, invalid label name,
  // the same label set twice.
  Status add(const std::string& name, const Labels& labels, uint64_t value);
  Status add(const std::string& name, const Labels& labels, double value);

  // The exposition text (ends with a newline when not empty).
  std::string text() const;

  static bool validMetricName(std::string_view name);
  static bool validLabelName(std::string_view name);
  // Label values escape backslash, double quote and newline; HELP text escapes
  // backslash and newline.
  static std::string escapeLabelValue(std::string_view v);
  static std::string escapeHelp(std::string_view v);

 private:
  struct Sample {
    std::string labels;  // rendered "{a="b"}" or ""
    std::string value;
  };
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::vector<Sample> samples;
  };
  Family* find(const std::string& name);
  Status addRendered(const std::string& name, const Labels& labels, std::string value);

  std::vector<Family> families_;
};

}  // namespace vnet::metrics

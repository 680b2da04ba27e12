// Persistent definitions: CONFIG_DIR/networks/NAME.xml plus autostart markers
// CONFIG_DIR/networks/autostart/NAME (libvirt keeps symlinks there; a marker file is enough).
// Writes are atomic (temp file + rename) so a crash never leaves half a definition.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::daemon {

struct StoredDefinition {
  std::string name;  // from the file name
  std::string path;
  std::string xml;
  bool autostart = false;
};

class DefinitionStore {
 public:
  explicit DefinitionStore(std::string configDir);

  // Creates the directories when missing.
  Status init();
  // Every NAME.xml in the networks directory, sorted by name. A file that cannot be read
  // is reported in `errors` and skipped.
  std::vector<StoredDefinition> loadAll(std::vector<Error>& errors) const;
  Status save(const std::string& name, const std::string& xml);
  Status remove(const std::string& name);
  Status setAutostart(const std::string& name, bool on);
  bool autostart(const std::string& name) const;
  std::string pathFor(const std::string& name) const;

 private:
  std::string networksDir_;
  std::string autostartDir_;
};

// Writes `content` to `path` atomically (write to path.tmp, fsync, rename).
Status writeFileAtomic(const std::string& path, const std::string& content);
// Reads a whole file, refusing files above maxBytes.
Result<std::string> readFile(const std::string& path, size_t maxBytes);

}  // namespace vnet::daemon

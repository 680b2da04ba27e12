#include "daemon/state_store.h"

namespace vnet::daemon {

namespace {
constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS active_networks (
  name TEXT PRIMARY KEY, xml TEXT NOT NULL, persistent INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ports (
  network TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
  guest_mac TEXT NOT NULL, host_mac TEXT NOT NULL, owner INTEGER,
  netns TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (network, name));
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS starting (
  name TEXT PRIMARY KEY, xml TEXT NOT NULL, persistent INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS network_options (
  name TEXT PRIMARY KEY, autorepair INTEGER NOT NULL DEFAULT 1);
)";

model::PortKind kindFromName(const std::string& s) {
  if (s == "veth") return model::PortKind::Veth;
  if (s == "adopted") return model::PortKind::Adopted;
  return model::PortKind::Tap;
}

Status finish(Statement& st) {
  st.step();
  return st.status();
}
}  // namespace

Result<StateStore> StateStore::open(const std::string& path) {
  auto db = Database::open(path);
  if (!db) return std::move(db).error();
  if (Status s = db->exec(kSchema); !s.ok()) return std::move(s).error().context(path);
  return StateStore(std::move(*db));
}

Result<std::vector<ActiveNetworkRecord>> StateStore::activeNetworks() {
  auto st = db_.prepare("SELECT name, xml, persistent FROM active_networks ORDER BY name");
  if (!st) return std::move(st).error();
  std::vector<ActiveNetworkRecord> out;
  while (st->step()) out.push_back({st->text(0), st->text(1), st->integer(2) != 0});
  if (!st->status().ok()) return st->status().error();
  return out;
}

Status StateStore::setActive(const ActiveNetworkRecord& rec) {
  auto st = db_.prepare(
      "INSERT INTO active_networks(name, xml, persistent) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(name) DO UPDATE SET xml = ?2, persistent = ?3");
  if (!st) return std::move(st).error();
  st->bind(1, rec.name).bind(2, rec.xml).bind(3, int64_t{rec.persistent});
  return finish(*st);
}

Status StateStore::clearActive(const std::string& name) {
  auto st = db_.prepare("DELETE FROM active_networks WHERE name = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, name);
  return finish(*st);
}

Status StateStore::setStarting(const ActiveNetworkRecord& rec) {
  auto st = db_.prepare(
      "INSERT INTO starting(name, xml, persistent) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(name) DO UPDATE SET xml = ?2, persistent = ?3");
  if (!st) return std::move(st).error();
  st->bind(1, rec.name).bind(2, rec.xml).bind(3, int64_t{rec.persistent});
  return finish(*st);
}

Status StateStore::clearStarting(const std::string& name) {
  auto st = db_.prepare("DELETE FROM starting WHERE name = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, name);
  return finish(*st);
}

Result<std::vector<ActiveNetworkRecord>> StateStore::interruptedStarts() {
  auto st = db_.prepare("SELECT name, xml, persistent FROM starting ORDER BY name");
  if (!st) return std::move(st).error();
  std::vector<ActiveNetworkRecord> out;
  while (st->step()) out.push_back({st->text(0), st->text(1), st->integer(2) != 0});
  if (!st->status().ok()) return st->status().error();
  return out;
}

Status StateStore::setAutorepair(const std::string& name, bool on) {
  auto st = db_.prepare(
      "INSERT INTO network_options(name, autorepair) VALUES(?1, ?2) "
      "ON CONFLICT(name) DO UPDATE SET autorepair = ?2");
  if (!st) return std::move(st).error();
  st->bind(1, name).bind(2, int64_t{on});
  return finish(*st);
}

Result<std::map<std::string, bool>> StateStore::autorepairSettings() {
  auto st = db_.prepare("SELECT name, autorepair FROM network_options");
  if (!st) return std::move(st).error();
  std::map<std::string, bool> out;
  while (st->step()) out[st->text(0)] = st->integer(1) != 0;
  if (!st->status().ok()) return st->status().error();
  return out;
}

Status StateStore::removeOptions(const std::string& name) {
  auto st = db_.prepare("DELETE FROM network_options WHERE name = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, name);
  return finish(*st);
}

Result<std::vector<model::Port>> StateStore::ports() {
  auto st = db_.prepare(
      "SELECT network, name, kind, guest_mac, host_mac, owner, netns, peer FROM ports "
      "ORDER BY network, name");
  if (!st) return std::move(st).error();
  std::vector<model::Port> out;
  while (st->step()) {
    model::Port p;
    p.network = st->text(0);
    p.name = st->text(1);
    p.kind = kindFromName(st->text(2));
    p.guestMac = Mac::parse(st->text(3)).value_or(Mac());
    p.hostMac = Mac::parse(st->text(4)).value_or(Mac());
    if (!st->isNull(5)) p.owner = static_cast<unsigned>(st->integer(5));
    p.netns = st->text(6);
    p.peerName = st->text(7);
    out.push_back(std::move(p));
  }
  if (!st->status().ok()) return st->status().error();
  return out;
}

Status StateStore::addPort(const model::Port& p) {
  auto st = db_.prepare(
      "INSERT OR REPLACE INTO ports(network, name, kind, guest_mac, host_mac, owner, netns, peer)"
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return std::move(st).error();
  st->bind(1, p.network).bind(2, p.name).bind(3, model::portKindName(p.kind));
  st->bind(4, p.guestMac.toString()).bind(5, p.hostMac.toString());
  if (p.owner) {
    st->bind(6, int64_t{*p.owner});
  } else {
    st->bindNull(6);
  }
  st->bind(7, p.netns).bind(8, p.peerName);
  return finish(*st);
}

Status StateStore::removePort(const std::string& network, const std::string& name) {
  auto st = db_.prepare("DELETE FROM ports WHERE network = ?1 AND name = ?2");
  if (!st) return std::move(st).error();
  st->bind(1, network).bind(2, name);
  return finish(*st);
}

Status StateStore::removePortsOf(const std::string& network) {
  auto st = db_.prepare("DELETE FROM ports WHERE network = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, network);
  return finish(*st);
}

Result<int64_t> StateStore::nextCounter(const std::string& key) {
  auto st = db_.prepare(
      "INSERT INTO counters(key, value) VALUES(?1, 1) "
      "ON CONFLICT(key) DO UPDATE SET value = value + 1 RETURNING value - 1");
  if (!st) return std::move(st).error();
  st->bind(1, key);
  if (!st->step()) {
    if (!st->status().ok()) return st->status().error();
    return Error("sqlite: counter " + key + " returned no row");
  }
  int64_t v = st->integer(0);
  st->step();
  return v;
}

}  // namespace vnet::daemon

#include "pipeline/checkpoint_store.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

namespace smartcity::pipeline {

namespace {

nlohmann::json PositionsToJson(const Positions& p) {
  nlohmann::json a = nlohmann::json::array();
  const bool repartitioned = std::any_of(p.begin() + kTopicCount, p.end(),
                                         [](const std::optional<Position>& v) { return v; });
  const size_t n = repartitioned ? kPositionSlots : kTopicCount;
  for (size_t i = 0; i < n; ++i)
    a.push_back(p[i] ? nlohmann::json(p[i]->value()) : nlohmann::json(nullptr));
  return a;
}

// The checks below never call a nlohmann accessor that could throw: each field's type is tested
// before it is read.
Result<Positions> PositionsFromJson(const nlohmann::json& j, const char* field) {
  const auto it = j.find(field);
  if (it == j.end()) return Status::Corruption(std::string("no \"") + field + "\" field");
  if (!it->is_array() || (it->size() != kTopicCount && it->size() != kPositionSlots)) {
    return Status::Corruption(std::string("\"") + field + "\" is not an array of " +
                              std::to_string(kTopicCount) + " (or " +
                              std::to_string(kPositionSlots) + ") positions");
  }
  Positions p;
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& v = (*it)[i];
    if (v.is_number_integer() && v.get<int64_t>() >= 0)
      p[i] = Position(v.get<int64_t>());
    else if (!v.is_null())
      return Status::Corruption(std::string("\"") + field + "\"[" + std::to_string(i) +
                                "] is not a position (a non-negative integer or null)");
  }
  return p;
}

Result<int64_t> IntegerField(const nlohmann::json& j, const char* field, bool required,
                             int64_t otherwise = 0) {
  const auto it = j.find(field);
  if (it == j.end()) {
    if (required) return Status::Corruption(std::string("no \"") + field + "\" field");
    return otherwise;
  }
  if (!it->is_number_integer())
    return Status::Corruption(std::string("\"") + field + "\" is not an integer");
  return it->get<int64_t>();
}

Result<nlohmann::json> ParseObject(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("not JSON");
  if (!j.is_object()) return Status::Corruption("not a JSON object");
  return j;
}

Result<int64_t> EpochField(const nlohmann::json& j) {
  SC_ASSIGN_OR_RETURN(int64_t epoch, IntegerField(j, "epoch", /*required=*/true));
  if (epoch < 1) return Status::Corruption("\"epoch\" is not a positive integer");
  return epoch;
}

}  // namespace

std::string EncodeOffsetsLog(const OffsetsLog& log) {
  nlohmann::json j = {{"epoch", log.epoch},
                      {"group", log.group},
                      {"end", PositionsToJson(log.end)},
                      {"watermark", log.watermark.time_since_epoch().count()},
                      {"final", log.final}};
  return j.dump() + "\n";
}

Result<OffsetsLog> DecodeOffsetsLog(std::string_view body) {
  SC_ASSIGN_OR_RETURN(nlohmann::json j, ParseObject(body));
  OffsetsLog log;
  SC_ASSIGN_OR_RETURN(log.epoch, EpochField(j));
  SC_ASSIGN_OR_RETURN(int64_t group, IntegerField(j, "group", /*required=*/false));
  log.group = static_cast<int32_t>(group);
  SC_ASSIGN_OR_RETURN(log.end, PositionsFromJson(j, "end"));
  SC_ASSIGN_OR_RETURN(int64_t wm, IntegerField(j, "watermark", /*required=*/true));
  log.watermark = EventTime(Micros(wm));
  if (const auto f = j.find("final"); f != j.end()) {
    if (!f->is_boolean()) return Status::Corruption("\"final\" is not true or false");
    log.final = f->get<bool>();
  }
  return log;
}

void AppendStateCheckpointHeader(const StateCheckpoint& c, std::string* out) {
  nlohmann::json h = {{"epoch", c.epoch},
                      {"group", c.group},
                      {"positions", PositionsToJson(c.positions)},
                      {"watermark", c.watermark.time_since_epoch().count()}};
  out->append(h.dump());
  out->push_back('\n');
}

Result<StateCheckpoint> DecodeStateCheckpoint(std::string_view blob) {
  const size_t nl = blob.find('\n');
  if (nl == std::string_view::npos) return Status::Corruption("no header line");
  SC_ASSIGN_OR_RETURN(nlohmann::json h, ParseObject(blob.substr(0, nl)));
  StateCheckpoint c;
  SC_ASSIGN_OR_RETURN(c.epoch, EpochField(h));
  SC_ASSIGN_OR_RETURN(int64_t group, IntegerField(h, "group", /*required=*/false));
  c.group = static_cast<int32_t>(group);
  SC_ASSIGN_OR_RETURN(c.positions, PositionsFromJson(h, "positions"));
  SC_ASSIGN_OR_RETURN(int64_t wm, IntegerField(h, "watermark", /*required=*/false));
  c.watermark = EventTime(Micros(wm));
  c.state = blob.substr(nl + 1);
  return c;
}

CheckpointStore::CheckpointStore(lake::ObjectStore* store, std::string query,
                                 const RetryPolicy* retry)
    : store_(store), query_(std::move(query)), retry_(retry) {}

std::string CheckpointStore::Key(int32_t p, std::string_view kind, int64_t epoch) const {
  char e[24];
  std::snprintf(e, sizeof e, "%020lld", static_cast<long long>(epoch));
  return "_checkpoints/" + query_ + "/p" + std::to_string(p) + "/" + std::string(kind) + "/" + e;
}

Result<std::optional<StateCheckpoint>> CheckpointStore::LoadNewestState(int32_t p,
                                                                        std::string* blob,
                                                                        uint64_t* retries) const {
  const std::string prefix = "_checkpoints/" + query_ + "/p" + std::to_string(p) + "/state/";
  std::vector<lake::ObjectInfo> states;
  SC_RETURN_IF_ERROR(retry_->Run(
      [&]() -> Status {
        auto l = store_->List(prefix);
        if (!l.ok()) return l.status();
        states = std::move(*l);
        return Status::OK();
      },
      retries));
  if (states.empty()) return std::optional<StateCheckpoint>();
  const std::string newest =
      std::max_element(states.begin(), states.end(), [](const auto& a, const auto& b) {
        return a.key < b.key;
      })->key;
  SC_RETURN_IF_ERROR(retry_->Run(
      [&]() -> Status {
        auto r = store_->Get(newest);
        if (!r.ok()) return r.status();
        *blob = std::move(*r);
        return Status::OK();
      },
      retries));
  auto c = DecodeStateCheckpoint(*blob);
  if (!c.ok()) {
    return Status::Corruption(
        "the state checkpoint " + newest + " in " + store_->Describe() + " is damaged (" +
        c.status().message() + "). Delete that file: partition group " + std::to_string(p) +
        " then restarts from the checkpoint before it and re-runs the next epoch from its offsets "
        "log, exactly once (docs/processor.md, \"Restart\")");
  }
  return std::optional<StateCheckpoint>(*c);
}

Result<std::optional<OffsetsLog>> CheckpointStore::LoadOffsetsLog(int32_t p, int64_t epoch) const {
  const std::string key = Key(p, "offsets", epoch);
  auto w = store_->Get(key);
  if (!w.ok()) {
    if (w.status().kind() == ErrorKind::kNotFound) return std::optional<OffsetsLog>();
    return w.status().WithContext("reading " + key);
  }
  auto log = DecodeOffsetsLog(*w);
  if (!log.ok()) {
    return Status::Corruption(
        "the offsets log " + key + " in " + store_->Describe() + " is damaged (" +
        log.status().message() + "). It fixes what epoch " + std::to_string(epoch) +
        " of partition group " + std::to_string(p) +
        " holds, and some tables may hold that epoch already: restore the file from a backup of "
        "the lake; delete it only if no table has a txn " +
        query_ + "-p" + std::to_string(p) + " of version " + std::to_string(epoch) +
        " (docs/processor.md, \"Restart\")");
  }
  return std::optional<OffsetsLog>(*log);
}

Status CheckpointStore::PutOffsetsLog(int32_t p, int64_t epoch, std::string_view body,
                                      uint64_t* retries) const {
  const std::string key = Key(p, "offsets", epoch);
  Status s = retry_->Run([&] { return store_->PutIfAbsent(key, body); }, retries);
  if (s.kind() == ErrorKind::kAlreadyExists) {
    auto existing = store_->Get(key);
    if (!existing.ok() || *existing != body) {
      return Status::Aborted("another processor has written " + key +
                             ": two members are processing partition group " + std::to_string(p) +
                             " (a member cut off past its session timeout, or two members with "
                             "one --instance-id; this one stops)");
    }
  } else if (!s.ok()) {
    return s.WithContext("writing the offsets log " + key);
  }
  return Status::OK();
}

Status CheckpointStore::PutState(int32_t p, int64_t epoch, std::string_view body,
                                 uint64_t* retries) const {
  const std::string key = Key(p, "state", epoch);
  Status s = retry_->Run([&] { return store_->PutIfAbsent(key, body); }, retries);
  if (!s.ok() && s.kind() != ErrorKind::kAlreadyExists)
    return s.WithContext("writing the checkpoint " + key);
  // The checkpoint before this one is no longer needed (its WAL neither).
  if (epoch > 2) {
    (void)store_->Delete(Key(p, "state", epoch - 2));
    (void)store_->Delete(Key(p, "offsets", epoch - 1));
  }
  return Status::OK();
}

}  // namespace smartcity::pipeline

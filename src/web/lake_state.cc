#include "web/lake_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "model/schema.h"
#include "pipeline/checkpoint_store.h"

namespace smartcity::web {

namespace {

using stream::OutputTable;
constexpr int64_t kCommitsPerTable = 10;

// Columns of one model table that a query reads, named by the model's column enums: Sql() is the
// SELECT list, and operator()(column) the position of that column in the result.
class Selection {
 public:
  Selection(model::Table table, std::initializer_list<int> columns)
      : table_(table), columns_(columns) {}
  std::string Name(int column) const { return std::string(model::ColumnName(table_, column)); }
  std::string Sql() const {
    std::string out;
    for (int c : columns_) out += (out.empty() ? "" : ", ") + Name(c);
    return out;
  }
  size_t operator()(int column) const {
    return static_cast<size_t>(std::find(columns_.begin(), columns_.end(), column) -
                               columns_.begin());
  }
  // The newest row per `key` (by event time, then source position).
  std::string LatestPer(int key) const {
    const model::Table t = table_;
    return " QUALIFY row_number() OVER (PARTITION BY " + Name(key) + " ORDER BY " +
           Name(model::ColumnWithRole(t, model::Role::kEventTime)) + " DESC, " +
           Name(model::ColumnWithRole(t, model::Role::kPartition)) + " DESC, " +
           Name(model::ColumnWithRole(t, model::Role::kOffset)) + " DESC) = 1";
  }

 private:
  model::Table table_;
  std::vector<int> columns_;
};

std::string Text(const engine::QueryResult& r, size_t col, size_t row) {
  return r.IsNull(col, row) ? std::string() : r.GetString(col, row);
}
double Num(const engine::QueryResult& r, size_t col, size_t row) {
  return r.IsNull(col, row) ? 0 : r.GetDouble(col, row);
}

}  // namespace

LakeStateReader::LakeStateReader(lake::ObjectStore* store, std::unique_ptr<engine::Connection> conn,
                                 std::filesystem::path scratch_dir)
    : store_(store), conn_(std::move(conn)), scratch_dir_(std::move(scratch_dir)) {}

LakeStateReader::~LakeStateReader() {
  std::error_code ec;
  for (const auto& [key, path] : downloaded_) std::filesystem::remove(path, ec);
}

Result<std::unique_ptr<LakeStateReader>> LakeStateReader::Open(lake::ObjectStore* store,
                                                               engine::Database* db,
                                                               std::filesystem::path scratch_dir) {
  SC_ASSIGN_OR_RETURN(auto conn, db->Connect());
  std::unique_ptr<LakeStateReader> r(
      new LakeStateReader(store, std::move(conn), std::move(scratch_dir)));
  for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
    r->tables_[i].log = std::make_unique<lake::DeltaLog>(
        store, std::string(stream::OutputTableName(static_cast<OutputTable>(i))));
  }
  return r;
}

Result<std::string> LakeStateReader::FileList(const Table& t) {
  std::string list;
  for (const auto& [path, add] : t.snapshot.files) {
    const std::string key = t.log->KeyPrefix() + path;
    std::string local;
    if (auto p = store_->LocalPath(key)) {
      local = p->string();
    } else if (auto it = downloaded_.find(key); it != downloaded_.end()) {
      local = it->second;
    } else {
      SC_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
      const auto file = scratch_dir_ / fmt::format("serve-{}.parquet", lake::NewUuid());
      std::ofstream out(file, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out.good())
        return Status::IOError("cannot write scratch file " + file.string() + "; check free space");
      local = downloaded_[key] = file.string();
    }
    list += (list.empty() ? "" : ", ") + engine::QuoteLiteral(local);
  }
  return "[" + list + "]";
}

std::optional<EventTime> LakeStateReader::NewestEventTime(const Table& t, size_t table) {
  const auto model_table = static_cast<model::Table>(table);
  const int column = model::ColumnWithRole(model_table, model::Role::kEventTime);
  if (column < 0) return std::nullopt;
  const std::string name(model::ColumnName(model_table, column));
  std::optional<EventTime> newest;
  for (const auto& [path, add] : t.snapshot.files) {
    if (add.stats.empty()) continue;
    const nlohmann::json stats =
        nlohmann::json::parse(add.stats, nullptr, /*allow_exceptions=*/false);
    if (!stats.is_object() || !stats.contains("maxValues")) continue;
    const nlohmann::json& max = stats["maxValues"];
    if (!max.is_object() || !max.contains(name) || !max[name].is_string()) continue;
    auto at = ParseTimestamp(max[name].get<std::string>());
    if (at.ok() && (!newest || *at > *newest)) newest = *at;
  }
  return newest;
}

Result<std::vector<GroupView>> LakeStateReader::ReadGroups() {
  // _checkpoints/<query>/p<p>/{offsets,state}/<epoch>: per (query, group), the epochs of each kind.
  SC_ASSIGN_OR_RETURN(auto objects, store_->List("_checkpoints/"));
  struct Epochs {
    std::set<int64_t> offsets, state;
  };
  std::map<std::pair<std::string, int32_t>, Epochs> found;
  for (const lake::ObjectInfo& o : objects) {
    std::string_view key = o.key;
    key.remove_prefix(std::min(key.size(), std::string_view("_checkpoints/").size()));
    const size_t q_end = key.find('/');
    if (q_end == std::string_view::npos) continue;
    const std::string_view query = key.substr(0, q_end);
    std::string_view rest = key.substr(q_end + 1);
    int32_t p = -1;
    int64_t epoch = -1;
    char kind[16] = {};
    const std::string r(rest);
    if (std::sscanf(r.c_str(), "p%d/%15[a-z]/%" SCNd64, &p, kind, &epoch) != 3 || p < 0) continue;
    Epochs& e = found[{std::string(query), p}];
    if (std::string_view(kind) == "offsets") e.offsets.insert(epoch);
    if (std::string_view(kind) == "state") e.state.insert(epoch);
  }
  std::map<int32_t, GroupView> groups;
  for (const auto& [qp, e] : found) {
    // The newest epoch with both files: committed (the state is written after every table).
    int64_t committed = -1;
    for (auto it = e.state.rbegin(); it != e.state.rend(); ++it) {
      if (e.offsets.count(*it) != 0) {
        committed = *it;
        break;
      }
    }
    if (committed < 0) continue;
    GroupView& g = groups[qp.second];
    if (g.committed_epoch >= committed) continue;  // another query's group went further
    pipeline::CheckpointStore cs(store_, qp.first, /*retry=*/nullptr);
    auto log = store_->Get(cs.Key(qp.second, "offsets", committed));
    if (!log.ok()) continue;
    auto decoded = pipeline::DecodeOffsetsLog(*log);
    if (!decoded.ok()) continue;
    g.group = qp.second;
    g.committed_epoch = committed;
    if (decoded->watermark != EventTime::min() && decoded->watermark != EventTime{})
      g.watermark = decoded->watermark;
  }
  std::vector<GroupView> out;
  for (const auto& [p, g] : groups) out.push_back(g);
  return out;
}

Status LakeStateReader::Refresh(LiveState* state) {
  std::array<uint64_t, stream::kOutputTableCount> rows{};
  bool changed = false;
  for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
    Table& t = tables_[i];
    if (!t.snapshot.exists()) {
      SC_ASSIGN_OR_RETURN(t.snapshot, t.log->Load(conn_.get()));
    } else {
      SC_ASSIGN_OR_RETURN(int applied, t.log->Update(&t.snapshot));
      (void)applied;
    }
    rows[i] = static_cast<uint64_t>(std::max<int64_t>(0, t.snapshot.NumRecords()));
    if (t.queried_version == t.snapshot.version) continue;
    changed = true;
    newest_[i] = NewestEventTime(t, i);

    // Recent commits of this table.
    std::deque<CommitView> commits;
    for (int64_t v = std::max<int64_t>(0, t.snapshot.version - kCommitsPerTable + 1);
         v <= t.snapshot.version; ++v) {
      auto c = t.log->ReadCommit(v);
      if (!c.ok()) continue;  // folded into a checkpoint and cleaned up: skip it
      CommitView view;
      view.table = std::string(stream::OutputTableName(static_cast<OutputTable>(i)));
      view.version = v;
      if (c->commit_info)
        view.at = WallTime(std::chrono::milliseconds(c->commit_info->timestamp_ms));
      for (const auto& add : c->adds)
        view.rows[i] += static_cast<uint64_t>(std::max<int64_t>(0, add.NumRecords()));
      commits.push_back(std::move(view));
    }
    commits_[i] = std::move(commits);

    const auto table = static_cast<OutputTable>(i);
    const bool wanted = table == OutputTable::kVehicle || table == OutputTable::kWeather ||
                        table == OutputTable::kEmergency || table == OutputTable::kTraffic;
    if (wanted && !t.snapshot.files.empty()) {
      SC_ASSIGN_OR_RETURN(std::string files, FileList(t));
      const std::string from =
          "read_parquet(" + files + ", union_by_name = true, hive_partitioning = false)";
      if (table == OutputTable::kVehicle) {
        using namespace model::vehicle_col;
        const Selection sel(model::Table::kVehicle,
                            {kDeviceId, kTimestamp, kLatitude, kLongitude, kSpeed, kDirection,
                             kMake, kModel, kYear, kFuelType});
        SC_ASSIGN_OR_RETURN(
            auto r, conn_->Query("SELECT " + sel.Sql() + " FROM " + from +
                                 sel.LatestPer(kDeviceId) + " ORDER BY " + sel.Name(kDeviceId)));
        std::vector<VehicleView> vs;
        for (size_t row = 0; row < r.row_count(); ++row) {
          VehicleView v;
          v.device_id = Text(r, sel(kDeviceId), row);
          v.at = r.GetTimestamp(sel(kTimestamp), row);
          v.latitude = Num(r, sel(kLatitude), row);
          v.longitude = Num(r, sel(kLongitude), row);
          v.speed = Num(r, sel(kSpeed), row);
          v.direction = Text(r, sel(kDirection), row);
          v.make = Text(r, sel(kMake), row);
          v.model = Text(r, sel(kModel), row);
          v.year =
              r.IsNull(sel(kYear), row) ? 0 : static_cast<int32_t>(r.GetInt64(sel(kYear), row));
          v.fuel_type = Text(r, sel(kFuelType), row);
          v.updated = AsWallTime(v.at);
          vs.push_back(std::move(v));
        }
        vehicles_ = std::move(vs);
      } else if (table == OutputTable::kWeather) {
        using namespace model::weather_col;
        const Selection sel(model::Table::kWeather,
                            {kDeviceId, kTimestamp, kTemperature, kWeatherCondition, kPrecipitation,
                             kWindSpeed, kHumidity, kAirQualityIndex});
        SC_ASSIGN_OR_RETURN(auto r, conn_->Query("SELECT " + sel.Sql() + " FROM " + from +
                                                 sel.LatestPer(kDeviceId)));
        auto int_at = [&](int column, size_t row) {
          return r.IsNull(sel(column), row) ? 0
                                            : static_cast<int32_t>(r.GetInt64(sel(column), row));
        };
        weather_.clear();
        for (size_t row = 0; row < r.row_count(); ++row) {
          WeatherView w;
          w.at = r.GetTimestamp(sel(kTimestamp), row);
          w.temperature = Num(r, sel(kTemperature), row);
          w.condition = Text(r, sel(kWeatherCondition), row);
          w.precipitation = Num(r, sel(kPrecipitation), row);
          w.wind_speed = Num(r, sel(kWindSpeed), row);
          w.humidity = int_at(kHumidity, row);
          w.air_quality_index = int_at(kAirQualityIndex, row);
          weather_[Text(r, sel(kDeviceId), row)] = std::move(w);
        }
      } else if (table == OutputTable::kEmergency) {
        using namespace model::emergency_col;
        const Selection sel(model::Table::kEmergency,
                            {kIncidentId, kDeviceId, kType, kStatus, kDescription, kTimestamp,
                             kLatitude, kLongitude});
        SC_ASSIGN_OR_RETURN(auto r, conn_->Query("SELECT " + sel.Sql() + " FROM " + from +
                                                 sel.LatestPer(kIncidentId) + " ORDER BY " +
                                                 sel.Name(kIncidentId)));
        std::vector<IncidentView> is;
        for (size_t row = 0; row < r.row_count(); ++row) {
          IncidentView v;
          v.incident_id = Text(r, sel(kIncidentId), row);
          v.device_id = Text(r, sel(kDeviceId), row);
          v.type = Text(r, sel(kType), row);
          v.status = Text(r, sel(kStatus), row);
          v.description = Text(r, sel(kDescription), row);
          v.at = r.GetTimestamp(sel(kTimestamp), row);
          v.latitude = Num(r, sel(kLatitude), row);
          v.longitude = Num(r, sel(kLongitude), row);
          is.push_back(std::move(v));
        }
        incidents_ = std::move(is);
      } else {
        using namespace model::traffic_col;
        const Selection sel(model::Table::kTraffic, {kCameraId, kLatitude, kLongitude, kTimestamp});
        const std::string camera = sel.Name(kCameraId);
        // One row per camera: where it is, when a vehicle last passed it, how many did.
        SC_ASSIGN_OR_RETURN(
            auto r, conn_->Query("SELECT " + camera + ", any_value(" + sel.Name(kLatitude) +
                                 "), any_value(" + sel.Name(kLongitude) + "), max(" +
                                 sel.Name(kTimestamp) + "), count(*) FROM " + from + " GROUP BY " +
                                 camera + " ORDER BY " + camera));
        std::vector<CameraView> cs;
        for (size_t row = 0; row < r.row_count(); ++row) {
          CameraView c;
          c.camera_id = Text(r, 0, row);
          c.latitude = Num(r, 1, row);
          c.longitude = Num(r, 2, row);
          c.last_seen = r.GetTimestamp(3, row);
          c.passes = static_cast<uint64_t>(r.GetInt64(4, row));
          cs.push_back(std::move(c));
        }
        cameras_ = std::move(cs);
      }
    }
    t.queried_version = t.snapshot.version;
  }

  std::vector<VehicleView> vehicles = vehicles_;
  for (VehicleView& v : vehicles) {
    if (auto it = weather_.find(v.device_id); it != weather_.end()) v.weather = it->second;
  }
  std::vector<CommitView> all;
  for (const auto& per_table : commits_) all.insert(all.end(), per_table.begin(), per_table.end());
  std::sort(all.begin(), all.end(),
            [](const CommitView& a, const CommitView& b) { return a.at < b.at; });
  std::deque<CommitView> recent(all.size() > 50 ? all.end() - 50 : all.begin(), all.end());
  state->ReplaceFromLake(std::move(vehicles), incidents_, cameras_, std::move(recent), rows);
  if (changed) {
    // The processor's checkpoints are written with the tables: read them when a table changed.
    SC_ASSIGN_OR_RETURN(groups_, ReadGroups());
  }
  state->ReplaceLakeProgress(groups_, newest_);
  return Status::OK();
}

Status LakeStateReader::RefreshWarehouse(LiveState* state, const std::string& duckdb_file) {
  std::error_code ec;
  if (!std::filesystem::exists(duckdb_file, ec)) {
    state->ReplaceLoads(std::deque<LoadView>{}, {}, /*present=*/false, "");
    return Status::OK();
  }
  if (Status s = conn_->Execute("ATTACH " + engine::QuoteLiteral(duckdb_file) +
                                " AS smartcity_wh (READ_ONLY)");
      !s.ok()) {
    if (s.message().find("lock") != std::string::npos) {
      // A loader holds the file: keep what was read, say so, retry at the next refresh.
      state->ReplaceLoads(std::nullopt, {}, /*present=*/true,
                          "busy: the warehouse file is in use by a running loader (retried at "
                          "the next refresh)");
      return Status::OK();
    }
    return s;
  }
  auto recent = conn_->Query(
      "SELECT table_name, delta_version, row_count, epoch_us(loaded_at) FROM "
      "smartcity_wh._smartcity_loads ORDER BY loaded_at DESC, delta_version DESC LIMIT 50");
  auto totals = conn_->Query(
      "SELECT table_name, max(delta_version), sum(row_count)::BIGINT, count(*), "
      "epoch_us(max(loaded_at)) FROM smartcity_wh._smartcity_loads GROUP BY table_name ORDER BY "
      "table_name");
  Status detached = conn_->Execute("DETACH smartcity_wh");
  if (!recent.ok() || !totals.ok()) {
    // A warehouse no load has reached yet has no bookkeeping table.
    state->ReplaceLoads(std::deque<LoadView>{}, {}, /*present=*/true, "");
    return detached;
  }
  auto wall = [](int64_t us) { return WallTime(Micros(us)); };
  std::deque<LoadView> loads;
  for (size_t row = recent->row_count(); row-- > 0;) {  // oldest first
    LoadView l;
    l.table = Text(*recent, 0, row);
    l.first_version = l.last_version = recent->GetInt64(1, row);
    l.rows = static_cast<uint64_t>(std::max<int64_t>(0, recent->GetInt64(2, row)));
    l.at = wall(recent->GetInt64(3, row));
    loads.push_back(std::move(l));
  }
  std::vector<TableLoadView> tables;
  for (size_t row = 0; row < totals->row_count(); ++row) {
    TableLoadView t;
    t.table = Text(*totals, 0, row);
    t.loaded_version = totals->GetInt64(1, row);
    t.rows = static_cast<uint64_t>(std::max<int64_t>(0, totals->GetInt64(2, row)));
    t.loads = static_cast<uint64_t>(totals->GetInt64(3, row));
    t.last_load = wall(totals->GetInt64(4, row));
    t.lake_version = t.loaded_version;
    for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
      if (stream::OutputTableName(static_cast<OutputTable>(i)) == t.table)
        t.lake_version = std::max(t.lake_version, tables_[i].snapshot.version);
    }
    tables.push_back(std::move(t));
  }
  state->ReplaceLoads(std::move(loads), std::move(tables), /*present=*/true, "");
  return detached;
}

}  // namespace smartcity::web

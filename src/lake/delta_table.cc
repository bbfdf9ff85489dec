#include "lake/delta_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "lake/iceberg.h"
#include "lake/symlink_manifest.h"

namespace smartcity::lake {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMicrosPerHour = 3600LL * 1000000LL;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Checks an existing table's metadata against what this writer produces. On success sets *merged to
// the table's schema plus the writer's new (nullable) columns and *added to whether there are any.
Status CheckCompatible(const std::string& table, const Metadata& existing,
                       const DeltaSchema& wanted, const std::vector<std::string>& wanted_partitions,
                       DeltaSchema* merged, bool* added) {
  if (existing.partition_columns != wanted_partitions) {
    return Status::InvalidArgument(fmt::format(
        "table {} is partitioned by [{}] but the writer partitions by [{}]; write to a new table "
        "or use the "
        "table's partitioning",
        table, fmt::join(existing.partition_columns, ", "), fmt::join(wanted_partitions, ", ")));
  }
  *merged = existing.schema;
  *added = false;
  for (const DeltaField& f : existing.schema.fields) {
    int i = wanted.IndexOf(f.name);
    if (i < 0) {
      return Status::InvalidArgument(
          fmt::format("table {} has column {} ({}) that the writer's schema lacks; dropping "
                      "columns is not supported",
                      table, f.name, DeltaTypeName(f.type)));
    }
    const DeltaField& w = wanted.fields[static_cast<size_t>(i)];
    if (w.type != f.type) {
      return Status::InvalidArgument(fmt::format(
          "table {} has column {} of type {} but the writer's schema says {}; changing a column's "
          "type is not supported",
          table, f.name, DeltaTypeName(f.type), DeltaTypeName(w.type)));
    }
    if (w.nullable && !f.nullable) {
      return Status::InvalidArgument(
          fmt::format("table {} has column {} as NOT NULL but the writer's schema lets it be null",
                      table, f.name));
    }
  }
  for (const DeltaField& w : wanted.fields) {
    if (existing.schema.IndexOf(w.name) >= 0) continue;
    if (!w.nullable) {
      return Status::InvalidArgument(
          fmt::format("the writer adds column {} to table {} as NOT NULL; an added column must be "
                      "nullable because the "
                      "table's existing rows have no value for it",
                      w.name, table));
    }
    merged->fields.push_back(w);
    *added = true;
  }
  return Status::OK();
}

}  // namespace

DeltaTable::DeltaTable(ObjectStore* store, std::string prefix, std::shared_ptr<const Schema> schema,
                       TableOptions options)
    : store_(store),
      log_(store, std::move(prefix), TableAccess::kWrite),
      schema_(std::move(schema)),
      options_(std::move(options)) {}

DeltaTable::~DeltaTable() = default;

Result<std::unique_ptr<DeltaTable>> DeltaTable::Open(ObjectStore* store, engine::Database* db,
                                                     std::string table_prefix,
                                                     std::shared_ptr<const Schema> schema,
                                                     TableOptions options) {
  if (options.scratch_dir.empty())
    options.scratch_dir = fs::temp_directory_path() / "smartcity-lake";
  std::unique_ptr<DeltaTable> t(
      new DeltaTable(store, std::move(table_prefix), std::move(schema), std::move(options)));
  SC_RETURN_IF_ERROR(t->Init(db));
  // The data files carry the columns' Iceberg field ids (positions in the table's schema, which
  // only ever appends): a table is readable as Iceberg by id, now or once Iceberg is turned on.
  std::vector<std::string> names;
  for (int c : t->data_columns_) names.push_back(t->schema_->columns[static_cast<size_t>(c)].name);
  t->field_ids_ = ParquetFieldIdsOf(t->table_schema_, names);
  return t;
}

Status DeltaTable::Init(engine::Database* db) {
  const std::string& name = log_.table_prefix();
  std::error_code ec;
  fs::create_directories(options_.scratch_dir, ec);
  if (ec) {
    return Status::IOError(fmt::format("cannot create scratch folder {}: {}",
                                       options_.scratch_dir.string(), ec.message()));
  }
  writer_id_ = NewUuid();

  // The Delta schema this writer produces: the batch's columns, then derived partition columns.
  DeltaSchema wanted;
  for (const ColumnSpec& c : schema_->columns)
    wanted.fields.push_back({c.name, c.type, c.nullable});
  std::vector<std::string> partition_names;
  std::vector<bool> is_identity(schema_->columns.size(), false);
  for (const PartitionField& p : options_.partitions) {
    int src = schema_->IndexOf(p.source);
    if (src < 0) {
      return Status::InvalidArgument(
          fmt::format("partition column {} of table {} refers to column {} that the schema lacks",
                      p.name, name, p.source));
    }
    const ColumnSpec& spec = schema_->columns[static_cast<size_t>(src)];
    if (p.kind == PartitionField::Kind::kIdentity) {
      if (spec.type == LogicalType::kDouble || spec.type == LogicalType::kTimestamp) {
        return Status::InvalidArgument(
            fmt::format("table {} cannot be partitioned by {} column {}; partition by a date or "
                        "hour of it instead",
                        name, LogicalTypeName(spec.type), spec.name));
      }
      is_identity[static_cast<size_t>(src)] = true;
    } else {
      if (spec.type != LogicalType::kTimestamp) {
        return Status::InvalidArgument(
            fmt::format("partition column {} of table {} needs a timestamp column, but {} is {}",
                        p.name, name, spec.name, LogicalTypeName(spec.type)));
      }
      if (wanted.IndexOf(p.name) >= 0) {
        return Status::InvalidArgument(
            fmt::format("partition column {} of table {} clashes with a column of the same name",
                        p.name, name));
      }
      wanted.fields.push_back(
          {p.name,
           p.kind == PartitionField::Kind::kDateOf ? LogicalType::kDate : LogicalType::kInt32,
           spec.nullable});
    }
    partition_sources_.push_back(src);
    partition_names.push_back(p.name);
  }
  for (size_t i = 0; i < schema_->columns.size(); ++i) {
    if (!is_identity[i]) data_columns_.push_back(static_cast<int>(i));
  }

  SC_ASSIGN_OR_RETURN(writer_, ParquetWriter::Make(db, options_.parquet));
  if (!options_.iceberg) {
    // A table that has Iceberg metadata keeps it in step whoever writes it.
    SC_ASSIGN_OR_RETURN(options_.iceberg, HasIcebergMetadata(store_, name));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    SC_ASSIGN_OR_RETURN(snap_, log_.Load(writer_->connection()));
    if (snap_.exists()) {
      SC_RETURN_IF_ERROR(CheckCompatible(name, snap_.metadata, wanted, partition_names,
                                         &table_schema_, &metadata_changed_));
      // A crash between a Delta commit and its Iceberg commit left the Iceberg metadata behind:
      // mirror the version the log has now.
      (void)MirrorIceberg();
      return Status::OK();
    }
    CommitActions create;
    CommitInfo ci;
    ci.timestamp_ms = NowMillis();
    ci.operation = "CREATE TABLE";
    ci.operation_parameters = {{"partitionBy", "[" + [&] {
                                  std::string s;
                                  for (const auto& p : partition_names)
                                    s += (s.empty() ? "\"" : ",\"") + p + "\"";
                                  return s;
                                }() + "]"}};
    ci.txn_id = NewUuid();
    create.commit_info = ci;
    create.protocol = Protocol{};
    Metadata md;
    md.id = NewUuid();
    md.schema = wanted;
    md.partition_columns = partition_names;
    md.configuration = options_.configuration;
    md.created_time_ms = ci.timestamp_ms;
    create.metadata = md;
    Status s = log_.WriteCommit(0, create);
    if (s.ok()) {
      snap_.Apply(create, 0);
      table_schema_ = wanted;
      (void)MirrorIceberg();
      return Status::OK();
    }
    // Another writer created the table first: open theirs.
    if (s.kind() != ErrorKind::kAlreadyExists)
      return s.WithContext(fmt::format("creating table {}", name));
  }
  return Status::Internal(fmt::format("table {} vanished while being opened", name));
}

std::string DeltaTable::MirrorIceberg() {
  if (!options_.iceberg) return {};
  auto r = MirrorToIceberg(store_, table_prefix(), snap_);
  if (r.ok()) return {};
  std::fprintf(stderr,
               "smartcity: warning: table %s: version %lld committed, but its Iceberg metadata "
               "was not written (the next commit retries): %s\n",
               table_prefix().c_str(), static_cast<long long>(snap_.version),
               r.status().message().c_str());
  return r.status().message();
}

Status DeltaTable::Append(const RecordBatch& batch, const std::string& group) {
  return AppendImpl(batch, group, nullptr);
}

Status DeltaTable::Append(RecordBatch&& batch, const std::string& group) {
  return AppendImpl(batch, group, &batch);
}

Status DeltaTable::AppendImpl(const RecordBatch& batch, const std::string& group,
                              RecordBatch* movable) {
  if (batch.schema_ptr() != schema_ && !(batch.schema() == *schema_)) {
    return Status::InvalidArgument(fmt::format(
        "a batch for table {} has a different schema than the table writer", table_prefix()));
  }
  const size_t n = batch.num_rows();
  if (n == 0) return Status::OK();
  if (!intent_key_.empty()) {
    // The staged commit would not hold these rows, and another writer may land it at any moment.
    return Status::InvalidArgument(
        fmt::format("table {}: rows appended after the commit was staged; Commit or Abort first",
                    table_prefix()));
  }
  if (unknown_put_.has_value()) {
    // The put may have landed with the files written so far, and a retry must find it as it was.
    return Status::InvalidArgument(fmt::format(
        "table {}: rows appended after a commit whose outcome is unknown; retry Commit or Abort "
        "first",
        table_prefix()));
  }
  if (merged_written_) {
    // Rows added after a failed Commit: the files it wrote no longer cover the buffers. Delete them
    // (learning first whether that commit landed after all: its files must stay).
    SC_ASSIGN_OR_RETURN(int applied, log_.Update(&snap_, writer_->connection()));
    (void)applied;
    SC_RETURN_IF_ERROR(DropMerged());
  }

  // Partition key of one row: per field an integer (date days / hour / int / bool) or a string.
  struct KeyPart {
    bool null = false;
    int64_t i = 0;
    std::string_view s;
    bool operator==(const KeyPart& o) const { return null == o.null && i == o.i && s == o.s; }
  };
  const size_t nparts = options_.partitions.size();
  std::vector<KeyPart> key(nparts), prev(nparts);
  auto compute = [&](size_t row, std::vector<KeyPart>* out) {
    for (size_t p = 0; p < nparts; ++p) {
      const Column& col = batch.column(static_cast<size_t>(partition_sources_[p]));
      KeyPart& k = (*out)[p];
      k = KeyPart{};
      if (col.IsNull(row)) {
        k.null = true;
        continue;
      }
      switch (options_.partitions[p].kind) {
        case PartitionField::Kind::kDateOf:
          k.i = FloorDiv(col.GetInt64(row), kMicrosPerDay);
          break;
        case PartitionField::Kind::kHourOf:
          k.i = FloorDiv(col.GetInt64(row), kMicrosPerHour) -
                FloorDiv(col.GetInt64(row), kMicrosPerDay) * 24;
          break;
        case PartitionField::Kind::kIdentity:
          switch (col.type()) {
            case LogicalType::kString:
              k.s = col.GetString(row);
              break;
            case LogicalType::kInt32:
              k.i = col.GetInt32(row);
              break;
            case LogicalType::kDate:
              k.i = col.GetDate(row);
              break;
            case LogicalType::kBool:
              k.i = col.GetBool(row) ? 1 : 0;
              break;
            default:
              k.i = col.GetInt64(row);
          }
      }
    }
  };
  auto buffer_for = [&](const std::vector<KeyPart>& k) -> Buffer* {
    PartitionValues values;
    std::string dir;
    for (size_t p = 0; p < nparts; ++p) {
      const PartitionField& f = options_.partitions[p];
      std::optional<std::string> v;
      if (!k[p].null) {
        if (f.kind == PartitionField::Kind::kDateOf ||
            (f.kind == PartitionField::Kind::kIdentity &&
             batch.column(static_cast<size_t>(partition_sources_[p])).type() ==
                 LogicalType::kDate)) {
          v = FormatDate(k[p].i);
        } else if (f.kind == PartitionField::Kind::kIdentity &&
                   batch.column(static_cast<size_t>(partition_sources_[p])).type() ==
                       LogicalType::kString) {
          v = std::string(k[p].s);
        } else if (f.kind == PartitionField::Kind::kIdentity &&
                   batch.column(static_cast<size_t>(partition_sources_[p])).type() ==
                       LogicalType::kBool) {
          v = k[p].i != 0 ? "true" : "false";
        } else {
          v = std::to_string(k[p].i);
        }
        if (v->empty()) v.reset();  // Delta reads an empty partition value as null
      }
      dir += f.name + "=" + EscapePartitionValue(v) + "/";
      values[f.name] = v;
    }
    auto [it, inserted] = buffers_.try_emplace(group + '\n' + dir);
    if (inserted) {
      it->second.group = group;
      it->second.values = std::move(values);
      it->second.dir = dir;
      it->second.rows = std::make_unique<RecordBatch>(schema_);
    }
    return &it->second;
  };

  Buffer* current = nullptr;
  size_t run_start = 0;
  auto flush_run = [&](size_t run_end) -> Status {
    if (movable != nullptr && run_start == 0 && run_end == n && current->rows->num_rows() == 0) {
      // The whole batch is this one partition's: take its data (the last use of `batch`).
      std::swap(*current->rows, *movable);
    } else {
      current->rows->AppendRows(batch, run_start, run_end);
    }
    const uint64_t bytes = current->rows->ByteSize();
    if (static_cast<double>(bytes) * compression_ratio_ >=
            static_cast<double>(options_.target_file_bytes) ||
        bytes >= options_.max_buffer_bytes) {
      SC_RETURN_IF_ERROR(Flush(current));
    }
    return Status::OK();
  };
  for (size_t r = 0; r < n; ++r) {
    if (nparts > 0) compute(r, &key);
    if (current != nullptr && key == prev) continue;
    if (current != nullptr) SC_RETURN_IF_ERROR(flush_run(r));
    current = buffer_for(key);
    run_start = r;
    std::swap(key, prev);
  }
  return flush_run(n);
}

Status DeltaTable::WriteFiles(std::span<const RowRange> ranges, const Buffer& b,
                              std::vector<AddFile>* out) {
  const size_t rows = CountRows(ranges);
  if (rows == 0) return Status::OK();
  // NOT NULL columns of the table (the protocol's invariant for writers) must get no null: a byte
  // scan per column and file, never per event.
  for (int c : data_columns_) {
    const ColumnSpec& spec = schema_->columns[static_cast<size_t>(c)];
    const int f = table_schema_.IndexOf(spec.name);
    if (f < 0 || table_schema_.fields[static_cast<size_t>(f)].nullable) continue;
    for (const RowRange& rr : ranges) {
      const Column& col = rr.batch->column(static_cast<size_t>(c));
      for (size_t r = rr.begin; r < rr.end; ++r) {
        if (col.IsNull(r)) {
          return Status::InvalidArgument(
              fmt::format("table {} has column {} as NOT NULL, but a row to write has no value "
                          "for it; nothing of it was written",
                          table_prefix(), spec.name));
        }
      }
    }
  }
  uint64_t mem = 0;  // what the rows hold in memory (a part of a batch: its share of the rows)
  for (const RowRange& rr : ranges) {
    const size_t n = rr.batch->num_rows();
    mem += rr.size() == n
               ? rr.batch->ByteSize()
               : static_cast<uint64_t>(static_cast<double>(rr.batch->ByteSize()) *
                                       static_cast<double>(rr.size()) / static_cast<double>(n));
  }
  const double est = static_cast<double>(mem) * compression_ratio_;
  const size_t files = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(est / static_cast<double>(options_.target_file_bytes))));
  const size_t per_file = (rows + files - 1) / files;
  std::vector<AddFile> written;
  uint64_t written_bytes = 0;
  Status status;
  for (size_t begin = 0; begin < rows && status.ok(); begin += per_file) {
    const size_t end = std::min(rows, begin + per_file);
    const std::string name = fmt::format("part-{:05}-{}.c000.{}.parquet", file_counter_++,
                                         NewUuid(), options_.parquet.compression);
    const fs::path local = options_.scratch_dir / fmt::format("{}-{}", writer_id_, name);
    auto st = writer_->Write(SliceRows(ranges, begin, end), data_columns_, local, field_ids_);
    if (!st.ok()) {
      status = st.status().WithContext(fmt::format("table {}", table_prefix()));
      break;
    }
    const std::string path = b.dir + name;
    status = store_->PutFile(log_.KeyPrefix() + path, local);
    std::error_code ec;
    fs::remove(local, ec);
    if (!status.ok()) break;
    AddFile a;
    a.path = path;
    a.partition_values = b.values;
    a.size = static_cast<int64_t>(st->size_bytes);
    a.modification_time_ms = NowMillis();
    a.data_change = true;
    a.stats = st->ToDeltaJson();
    written.push_back(std::move(a));
    written_bytes += st->size_bytes;
  }
  if (!status.ok()) {
    // Nothing of these rows counts as written: remove the partial uploads.
    for (const AddFile& a : written) (void)store_->Delete(log_.KeyPrefix() + a.path);
    return status;
  }
  if (mem > 0 && written_bytes > 0) {
    compression_ratio_ =
        std::clamp(static_cast<double>(written_bytes) / static_cast<double>(mem), 0.01, 2.0);
  }
  for (AddFile& a : written) out->push_back(std::move(a));
  return Status::OK();
}

Status DeltaTable::Flush(Buffer* b) {
  std::vector<AddFile> written;
  const RowRange all{b->rows.get(), 0, b->rows->num_rows()};
  SC_RETURN_IF_ERROR(WriteFiles(std::span(&all, 1), *b, &written));  // on error they stay buffered
  for (AddFile& a : written) pending_.push_back(Pending{b->group, std::move(a)});
  b->rows->Clear();
  return Status::OK();
}

Status DeltaTable::WriteMerged() {
  // buffers_ is ordered by group, then folder: gather each folder's buffers.
  std::map<std::string, std::vector<const Buffer*>> by_dir;
  for (const auto& [key, b] : buffers_) {
    if (b.rows->num_rows() > 0) by_dir[b.dir].push_back(&b);
  }
  // Each folder's files take the rows of its buffers one after the other, as they are (no merged
  // copy: that was a copy of the epoch's rows of the table, on top of the buffers).
  std::vector<RowRange> ranges;
  for (const auto& [dir, bufs] : by_dir) {
    ranges.clear();
    for (const Buffer* b : bufs) ranges.push_back(RowRange{b->rows.get(), 0, b->rows->num_rows()});
    Status s = WriteFiles(ranges, *bufs.front(), &merged_);
    if (!s.ok()) {
      (void)DropMerged();
      return s;
    }
  }
  merged_written_ = true;
  return Status::OK();
}

Status DeltaTable::DropMerged() {
  Status first;
  for (const AddFile& a : merged_) {
    if (snap_.files.count(a.path) != 0) continue;  // it did get committed: keep it
    if (published_.count(a.path) != 0) continue;   // see published_
    Status s = store_->Delete(log_.KeyPrefix() + a.path);
    if (first.ok() && !s.ok()) first = s;
  }
  merged_.clear();
  merged_written_ = false;
  return first;
}

Status DeltaTable::DropGroups(const std::function<bool(const std::string&)>& drop) {
  bool erased = false;
  for (auto it = buffers_.begin(); it != buffers_.end();) {
    if (drop(it->second.group)) {
      it = buffers_.erase(it);
      erased = true;
    } else {
      ++it;
    }
  }
  // The merged files hold the dropped groups' rows too: write them again from what is left.
  Status first = erased && merged_written_ ? DropMerged() : Status::OK();
  std::vector<Pending> keep;
  for (Pending& p : pending_) {
    if (!drop(p.group)) {
      keep.push_back(std::move(p));
      continue;
    }
    if (snap_.files.count(p.file.path) != 0) continue;  // it did get committed: keep it
    if (published_.count(p.file.path) != 0) continue;   // see published_
    Status s = store_->Delete(log_.KeyPrefix() + p.file.path);
    if (first.ok() && !s.ok()) first = s;
  }
  pending_ = std::move(keep);
  return first;
}

Status DeltaTable::PublishIntent(const std::map<std::string, int64_t>& wanted,
                                 const std::set<std::string>& skipped) {
  CommitActions intent;
  CommitInfo ci;
  ci.timestamp_ms = NowMillis();
  ci.operation = "STAGED STREAMING UPDATE";
  ci.txn_id = NewUuid();
  intent.commit_info = ci;
  intent_txns_.clear();
  for (const auto& [app, version] : wanted) {
    if (skipped.count(app) != 0) continue;
    intent.txns.push_back(Txn{app, version, ci.timestamp_ms});
    intent_txns_.emplace(app, version);
  }
  for (const Pending& p : pending_) intent.adds.push_back(p.file);
  for (const AddFile& a : merged_) intent.adds.push_back(a);
  for (const AddFile& a : intent.adds) published_.insert(a.path);
  // Counted as published before the put: a put whose outcome is unknown may have landed, and then
  // another writer may commit these files (Abort must not delete them).
  intent_key_ =
      fmt::format("{}_staged/{}-{}.json", log_.KeyPrefix(), writer_id_, ++intent_counter_);
  return store_->Put(intent_key_, SerializeCommit(intent))
      .WithContext(fmt::format("staging a commit of table {}", table_prefix()));
}

void DeltaTable::WithdrawIntent() {
  if (intent_key_.empty()) return;
  (void)store_->Delete(intent_key_);
  intent_key_.clear();
  intent_txns_.clear();
}

bool DeltaTable::IntentTaken() const {
  if (intent_key_.empty() || intent_txns_.empty()) return false;
  for (const auto& [app, version] : intent_txns_) {
    std::optional<int64_t> have = snap_.TxnVersion(app);
    if (!have.has_value() || *have < version) return false;
  }
  // Its epochs are in: with its files (this intent), unless all of them were compacted away since.
  // (Without any: a zombie's intent or a replay of these epochs landed instead.)
  bool none = true;
  for (const Pending& p : pending_) {
    if (snap_.files.count(p.file.path) != 0) return true;
    none = false;
  }
  for (const AddFile& a : merged_) {
    if (snap_.files.count(a.path) != 0) return true;
    none = false;
  }
  return none;
}

Result<std::optional<int64_t>> DeltaTable::UnknownPutLanded() {
  if (!unknown_put_.has_value()) return std::optional<int64_t>();
  const int64_t last = std::min(unknown_put_->last_version, snap_.version);
  for (int64_t v = unknown_put_->first_version; v <= last; ++v) {
    auto c = log_.ReadCommit(v);
    if (!c.ok()) {
      if (c.status().kind() == ErrorKind::kNotFound) continue;  // cleaned up: not one we know
      return c.status();
    }
    if (c->commit_info.has_value() && c->commit_info->txn_id == unknown_put_->txn_id)
      return std::optional<int64_t>(v);
  }
  return std::optional<int64_t>();
}

std::vector<std::pair<std::string, CommitActions>> DeltaTable::TakeableIntents(
    const std::set<std::string>& own) {
  std::vector<std::pair<std::string, CommitActions>> taken;
  // Taking others' intents is an optimisation: when they cannot be read, this commit is the
  // writer's own, as without group commit.
  auto listed = store_->List(log_.KeyPrefix() + "_staged/");
  if (!listed.ok()) return taken;
  std::map<std::string, std::chrono::system_clock::time_point> present;  // key -> written at
  for (const ObjectInfo& o : *listed) {
    if (o.key == intent_key_) continue;
    present.emplace(o.key, o.modified);
    if (staged_cache_.count(o.key) != 0) continue;
    auto body = store_->Get(o.key);
    if (!body.ok()) continue;  // withdrawn meanwhile, or unreadable now: not taken
    auto parsed = ParseCommit(*body);
    std::optional<CommitActions> intent;
    if (parsed.ok() && parsed->commit_info.has_value() && !parsed->txns.empty() &&
        !parsed->metadata.has_value() && parsed->removes.empty())
      intent = std::move(*parsed);
    staged_cache_.emplace(o.key, std::move(intent));
  }
  for (auto it = staged_cache_.begin(); it != staged_cache_.end();) {
    it = present.count(it->first) == 0 ? staged_cache_.erase(it) : std::next(it);
  }
  // Ages by the store's clock, as vacuum measures a file's (the writer's clock may be off).
  const auto now = std::chrono::system_clock::now();
  std::vector<std::pair<int64_t, const std::string*>> candidates;  // by the time they were staged
  std::vector<std::string> stale;
  for (const auto& [key, intent] : staged_cache_) {
    if (!intent.has_value()) continue;
    bool committed = false;
    std::set<std::string> apps;
    bool twice = false;
    for (const Txn& t : intent->txns) {
      std::optional<int64_t> have = snap_.TxnVersion(t.app_id);
      if (have.has_value() && *have >= t.version) committed = true;
      twice |= !apps.insert(t.app_id).second;
    }
    const auto age = now - present.at(key);
    // One of its epochs is in the table (its writer or a replay committed it), it is too old to
    // take, or it is not one a writer makes: never taken, by anyone.
    if (committed || twice || age > options_.intent_ttl) {
      stale.push_back(key);
      continue;
    }
    candidates.emplace_back(intent->commit_info->timestamp_ms, &key);
  }
  for (const std::string& key : stale) {
    (void)store_->Delete(key);
    staged_cache_.erase(key);
  }
  std::sort(candidates.begin(), candidates.end());
  std::set<std::string> apps = own;
  for (const auto& [ts, key] : candidates) {
    const CommitActions& intent = *staged_cache_.at(*key);
    bool clash = false;
    for (const Txn& t : intent.txns) clash |= apps.count(t.app_id) != 0;
    if (clash) continue;  // at most one epoch of an app id per commit, the older first
    // Its files must still be there (written before the intent; vacuum keeps unreferenced files
    // for its retention, longer than the TTL).
    bool present_files = true;
    for (const AddFile& a : intent.adds) {
      if (snap_.files.count(a.path) != 0 || !store_->Head(log_.KeyPrefix() + a.path).ok()) {
        present_files = false;
        break;
      }
    }
    if (!present_files) continue;
    for (const Txn& t : intent.txns) apps.insert(t.app_id);
    taken.emplace_back(*key, intent);
  }
  return taken;
}

Result<CommitResult> DeltaTable::Commit(const std::vector<TxnId>& txns) {
  return CommitImpl(txns, /*stage_only=*/false);
}

Result<CommitResult> DeltaTable::Stage(const std::vector<TxnId>& txns) {
  return CommitImpl(txns, /*stage_only=*/true);
}

bool DeltaTable::OtherWritersActive(const std::vector<TxnId>& own) const {
  if (!options_.group_commit) return false;
  const int64_t since = NowMillis() - options_.peers_within.count();
  for (const auto& [app, updated] : snap_.txn_updated) {
    if (updated < since) continue;
    bool mine = false;
    for (const TxnId& t : own) mine |= t.app_id == app;
    if (!mine) return true;
  }
  return false;
}

Result<CommitResult> DeltaTable::CommitImpl(const std::vector<TxnId>& txns, bool stage_only) {
  if (txns.empty())
    return Status::InvalidArgument("a commit needs at least one txn (app id and version)");
  std::map<std::string, int64_t> wanted;
  for (const TxnId& t : txns) {
    if (t.app_id.empty()) return Status::InvalidArgument("a txn app id must not be empty");
    if (!wanted.emplace(t.app_id, t.version).second) {
      return Status::InvalidArgument(
          fmt::format("txn app id {} is listed twice in one commit", t.app_id));
    }
  }
  // Rows appended without a group belong to the commit's only txn.
  auto owner = [&](const std::string& group) -> const std::string& {
    return group.empty() ? txns.front().app_id : group;
  };
  for (const auto& [key, b] : buffers_) {
    if (b.group.empty() ? txns.size() != 1 : wanted.count(b.group) == 0) {
      return Status::InvalidArgument(
          fmt::format("table {} has rows of group \"{}\" that the commit's txns do not name",
                      table_prefix(), b.group));
    }
  }
  for (const Pending& p : pending_) {
    if (p.group.empty() ? txns.size() != 1 : wanted.count(p.group) == 0) {
      return Status::InvalidArgument(
          fmt::format("table {} has files of group \"{}\" that the commit's txns do not name",
                      table_prefix(), p.group));
    }
  }

  CommitResult result;
  std::set<std::string> skipped;
  // Drops every group whose epoch the table already has; true when none is left to commit.
  auto drop_committed = [&]() -> Result<bool> {
    std::set<std::string> now;
    for (const auto& [app, version] : wanted) {
      std::optional<int64_t> have = snap_.TxnVersion(app);
      if (have.has_value() && *have >= version) now.insert(app);
    }
    if (now.size() != skipped.size()) {
      skipped = now;
      // A published intent holding one of these epochs can no longer be taken by anyone (a commit
      // at version X is built on X - 1, which must not hold the epoch, and every later version
      // does): it is withdrawn. Its files stay (published_).
      bool withdraw = false;
      for (const std::string& app : now) withdraw |= intent_txns_.count(app) != 0;
      SC_RETURN_IF_ERROR(
          DropGroups([&](const std::string& g) { return skipped.count(owner(g)) != 0; }));
      if (withdraw) WithdrawIntent();
    }
    return skipped.size() == wanted.size();
  };
  // The epochs are in the table with this writer's files: its own put whose outcome was unknown
  // landed (`own_put`), or (group commit) another writer's commit took its intent. Either way its
  // files are the table's, whatever the table did with them since (a compaction may have replaced
  // them): none is deleted.
  auto finish_landed = [&](std::optional<int64_t> own_put) {
    result.committed_by_other = !own_put.has_value();
    result.intents_taken = 0;
    result.table_version = snap_.version;
    if (own_put.has_value()) {
      // The puts to that version may have taken different intents: those whose epochs are all in
      // the table now are taken (by it or, stale anyway, by another commit).
      for (const auto& [key, intent_txns] : unknown_put_->taken[*own_put]) {
        bool in = true;
        for (const auto& [app, version] : intent_txns) {
          std::optional<int64_t> have = snap_.TxnVersion(app);
          in = in && have.has_value() && *have >= version;
        }
        if (!in) continue;
        ++result.intents_taken;
        (void)store_->Delete(key);
      }
      result.table_version = *own_put;
      metadata_changed_ = false;  // the landed commit carried it
    }
    unknown_put_.reset();
    published_.clear();
    result.rows_added = 0;
    for (const Pending& p : pending_)
      result.rows_added += std::max<int64_t>(0, p.file.NumRecords());
    for (const AddFile& a : merged_) result.rows_added += std::max<int64_t>(0, a.NumRecords());
    result.files_added = static_cast<int>(pending_.size() + merged_.size());
    result.skipped_groups.assign(skipped.begin(), skipped.end());
    pending_.clear();
    merged_.clear();
    merged_written_ = false;
    buffers_.clear();
    WithdrawIntent();  // the taker deletes it too
    return result;
  };
  // After the files are written: publish them as an intent (group commit) when other writers
  // commit to the table, unless the commit changes the table's schema (such a commit is only ever
  // made by its writer).
  auto publish = [&]() -> Status {
    if (metadata_changed_ || !intent_key_.empty() || !OtherWritersActive(txns)) return Status::OK();
    return PublishIntent(wanted, skipped);
  };
  // Every version the puts tried is in the log, none of them ours: none landed, none can.
  auto settle_puts = [&] {
    if (unknown_put_.has_value() && unknown_put_->last_version <= snap_.version) {
      unknown_put_.reset();
    }
  };
  auto finish_skipped = [&] {
    result.intents_taken = 0;
    published_.clear();
    unknown_put_.reset();
    result.table_version = snap_.version;
    result.skipped = true;
    result.skipped_groups.assign(skipped.begin(), skipped.end());
    result.files_added = 0;
    result.rows_added = 0;
    return result;
  };

  // A put whose outcome was unknown belongs to this commit only if it is a retry of the same txns.
  if (unknown_put_.has_value() && unknown_put_->wanted != wanted) {
    // Its files are still pending: committing other txns now would commit them again.
    return Status::InvalidArgument(
        fmt::format("table {}: a commit of other txns while the outcome of an earlier commit is "
                    "unknown; retry that Commit or Abort first",
                    table_prefix()));
  }
  SC_ASSIGN_OR_RETURN(int applied, log_.Update(&snap_, writer_->connection()));
  (void)applied;
  // A retry after a put whose outcome was unknown: a version since holds the epochs if it is our
  // commit (its commitInfo.txnId), and then the files must stay even if they are no longer in the
  // snapshot (drop_committed below would delete them as a replay's leftovers).
  SC_ASSIGN_OR_RETURN(std::optional<int64_t> own_put, UnknownPutLanded());
  if (own_put.has_value()) return finish_landed(own_put);
  settle_puts();
  if (IntentTaken()) return finish_landed(std::nullopt);  // by a commit after a failed attempt
  SC_ASSIGN_OR_RETURN(bool all_skipped, drop_committed());
  if (all_skipped) return finish_skipped();
  if (!merged_written_) SC_RETURN_IF_ERROR(WriteMerged());
  SC_RETURN_IF_ERROR(publish());
  if (stage_only) return result;

  CommitInfo ci;
  ci.operation = "STREAMING UPDATE";
  ci.is_blind_append = true;
  // A put that may have landed: its version and the intents it took.
  auto note_put = [&](int64_t version,
                      const std::vector<std::pair<std::string, CommitActions>>& taken) {
    if (!unknown_put_.has_value())
      unknown_put_ = UnknownPut{version, version, ci.txn_id, {}, wanted};
    unknown_put_->last_version = version;
    auto& noted = unknown_put_->taken[version];
    for (const auto& [key, intent] : taken) {
      std::vector<std::pair<std::string, int64_t>>& txns = noted[key];
      txns.clear();
      for (const Txn& t : intent.txns) txns.emplace_back(t.app_id, t.version);
    }
  };
  // Every put of one commit carries the same id, so a retry recognizes any of them that landed.
  ci.txn_id = unknown_put_.has_value() ? unknown_put_->txn_id : NewUuid();
  for (int attempt = 1; attempt <= options_.max_commit_attempts; ++attempt) {
    result.attempts = attempt;
    const int64_t now = NowMillis();
    CommitActions c;
    ci.timestamp_ms = now;
    std::string epochs;
    std::set<std::string> own;
    for (const auto& [app, version] : wanted) {
      if (skipped.count(app) != 0) continue;
      c.txns.push_back(Txn{app, version, now});
      own.insert(app);
      epochs += (epochs.empty() ? "" : ",") + app + ":" + std::to_string(version);
    }
    std::vector<std::pair<std::string, CommitActions>> taken;
    if (OtherWritersActive(txns)) taken = TakeableIntents(own);
    for (const auto& [key, intent] : taken) {
      for (const Txn& t : intent.txns) {
        c.txns.push_back(Txn{t.app_id, t.version, now});
        epochs += "," + t.app_id + ":" + std::to_string(t.version);
      }
    }
    ci.operation_parameters = {{"outputMode", "Append"}, {"epochs", epochs}};
    c.commit_info = ci;
    result.rows_added = 0;
    for (const Pending& p : pending_) {
      c.adds.push_back(p.file);
      result.rows_added += std::max<int64_t>(0, p.file.NumRecords());
    }
    for (const AddFile& a : merged_) {
      c.adds.push_back(a);
      result.rows_added += std::max<int64_t>(0, a.NumRecords());
    }
    result.files_added = static_cast<int>(c.adds.size());
    result.intents_taken = static_cast<int>(taken.size());
    for (const auto& [key, intent] : taken)
      c.adds.insert(c.adds.end(), intent.adds.begin(), intent.adds.end());
    if (metadata_changed_) {
      Metadata md = snap_.metadata;
      md.schema = table_schema_;
      c.metadata = md;
    }
    const int64_t version = snap_.version + 1;
    Status s = log_.WriteCommit(version, c);
    if (s.ok()) {
      snap_.Apply(c, version);
      metadata_changed_ = false;
      pending_.clear();
      merged_.clear();
      merged_written_ = false;
      buffers_.clear();
      published_.clear();
      unknown_put_.reset();
      WithdrawIntent();
      for (const auto& [key, intent] : taken) {
        (void)store_->Delete(key);  // best effort: a leftover's txns are in the table now
        staged_cache_.erase(key);
      }
      result.table_version = version;
      result.skipped_groups.assign(skipped.begin(), skipped.end());
      if (options_.checkpoint_interval > 0 && version % options_.checkpoint_interval == 0) {
        // A checkpoint only speeds up readers; failing to write one loses nothing.
        (void)log_.WriteCheckpoint(snap_, writer_->connection(), options_.scratch_dir.string());
      }
      // The Iceberg commit follows the Delta one, never part of it: its failure must not fail a
      // commit that landed. (Before the manifests: they may move snap_ on to newer versions.)
      result.iceberg_error = MirrorIceberg();
      if (SymlinkManifestEnabled(snap_.metadata)) {
        // After the commit, never part of it: a failure here must not fail (and so retry and
        // duplicate) a commit that landed. snap_ may move on to other writers' newer commits.
        // When our last manifest write listed the version before this one, only the partitions
        // this commit added files to change.
        std::set<std::string> touched;
        for (const AddFile& a : c.adds) {
          touched.insert(
              ManifestPartitionDir(snap_.metadata.partition_columns, a.partition_values));
        }
        auto m = UpdateSymlinkManifest(&log_, store_, &snap_, writer_->connection(),
                                       manifest_version_ == version - 1 ? &touched : nullptr);
        if (m.ok()) manifest_version_ = m->version;
        if (!m.ok()) {
          result.manifest_error = m.status().message();
          std::fprintf(stderr,
                       "smartcity: warning: table %s: version %lld committed, but its symlink "
                       "manifest was not rewritten (the next commit retries): %s\n",
                       table_prefix().c_str(), static_cast<long long>(version),
                       result.manifest_error.c_str());
        }
      }
      return result;
    }
    if (s.kind() != ErrorKind::kAlreadyExists) {
      // The commit may or may not have landed (e.g. a timeout after the write). The pending files
      // are kept: a retried Commit with the same txns finds out from the log which it was.
      note_put(version, taken);
      return s.WithContext(
          fmt::format("committing version {} of table {}", version, table_prefix()));
    }
    // Lost the race for `version`: catch up with the winners and try the next version. Unless the
    // winner is this put: the store's client resends a request whose answer it lost, and the
    // resend of a put that had landed finds the version taken.
    note_put(version, taken);
    SC_ASSIGN_OR_RETURN(applied, log_.Update(&snap_, writer_->connection()));
    // The version we lost may be an earlier put of ours that landed late.
    SC_ASSIGN_OR_RETURN(own_put, UnknownPutLanded());
    if (own_put.has_value()) return finish_landed(own_put);
    settle_puts();
    if (IntentTaken()) return finish_landed(std::nullopt);
    SC_ASSIGN_OR_RETURN(all_skipped, drop_committed());
    if (all_skipped) return finish_skipped();
    DeltaSchema wanted_schema = table_schema_;
    SC_RETURN_IF_ERROR(CheckCompatible(table_prefix(), snap_.metadata, wanted_schema,
                                       snap_.metadata.partition_columns, &table_schema_,
                                       &metadata_changed_));
    if (!merged_written_) SC_RETURN_IF_ERROR(WriteMerged());
    SC_RETURN_IF_ERROR(publish());
  }
  return Status::Unavailable(fmt::format(
      "table {}: lost the race for a commit version {} times in a row; too many concurrent writers",
      table_prefix(), options_.max_commit_attempts));
}

Status DeltaTable::Abort() {
  buffers_.clear();
  if (!intent_key_.empty()) {
    // Another writer may be committing the published intent at this moment: its files stay (an
    // orphan if it is not taken; vacuum removes it after its retention).
    unknown_put_.reset();
    WithdrawIntent();
    pending_.clear();
    merged_.clear();
    merged_written_ = false;
    published_.clear();
    return Status::OK();
  }
  // Never delete a file that a commit whose outcome we did not learn may have published.
  auto applied = log_.Update(&snap_, writer_->connection());
  Result<std::optional<int64_t>> own_put = std::optional<int64_t>();
  if (applied.ok()) own_put = UnknownPutLanded();
  // A put to a version the log does not have yet may still land.
  const bool may_land = unknown_put_.has_value() && unknown_put_->last_version > snap_.version;
  unknown_put_.reset();
  if (!applied.ok() || !own_put.ok() || own_put->has_value() || may_land) {
    // Left as they are: orphans, invisible, removed by vacuum; or (our put landed) the table's
    // files, though a compaction may have replaced them since.
    pending_.clear();
    merged_.clear();
    merged_written_ = false;
    if (!applied.ok()) return applied.status();
    return own_put.status();
  }
  Status merged = DropMerged();
  Status dropped = DropGroups([](const std::string&) { return true; });
  return merged.ok() ? dropped : merged;
}

Result<std::optional<int64_t>> DeltaTable::TxnVersion(const std::string& app_id) {
  SC_ASSIGN_OR_RETURN(int applied, log_.Update(&snap_, writer_->connection()));
  (void)applied;
  return snap_.TxnVersion(app_id);
}

Status DeltaTable::Refresh() {
  SC_ASSIGN_OR_RETURN(int applied, log_.Update(&snap_, writer_->connection()));
  (void)applied;
  return Status::OK();
}

size_t DeltaTable::buffered_rows() const {
  size_t n = 0;
  for (const auto& [dir, b] : buffers_) n += b.rows->num_rows();
  return n;
}

}  // namespace smartcity::lake

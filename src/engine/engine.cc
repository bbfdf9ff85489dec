#include "engine/engine.h"

#include <duckdb.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "common/mutex.h"

namespace smartcity::engine {

namespace {

std::string TypeNameOf(duckdb_logical_type t) {
  char* s = duckdb_logical_type_get_alias(t);
  if (s == nullptr) {
    // No alias: name the type id; enough for an error message.
    return fmt::format("type #{}", static_cast<int>(duckdb_get_type_id(t)));
  }
  std::string out(s);
  duckdb_free(s);
  return out;
}

// The Status for a failed query; destroys the result.
Status TakeError(duckdb_result* res) {
  const char* e = duckdb_result_error(res);
  std::string msg = e != nullptr ? e : "unknown error";
  // DuckDB appends advice in SQL (SET memory_limit, threads, ...) that our users cannot act on: the
  // callers say what to do instead.
  if (const size_t advice = msg.find("\n\nPossible solutions:"); advice != std::string::npos)
    msg.resize(advice);
  duckdb_error_type kind = duckdb_result_error_type(res);
  duckdb_destroy_result(res);
  ErrorKind ek = ErrorKind::kInvalidArgument;
  if (kind == DUCKDB_ERROR_IO) ek = ErrorKind::kIOError;
  if (kind == DUCKDB_ERROR_OUT_OF_MEMORY) ek = ErrorKind::kResourceExhausted;
  if (kind == DUCKDB_ERROR_INTERNAL || kind == DUCKDB_ERROR_FATAL) ek = ErrorKind::kInternal;
  if (kind == DUCKDB_ERROR_INTERRUPT) ek = ErrorKind::kAborted;
  return Status(ek, "query failed: " + msg);
}

// The engine edge of the one logical type (common/logical_type.h), as DuckDB's C API spells it:
// DuckType for the vectors we fill, LogicalTypeOf for the result columns we read. DuckDB has many
// more types; those that read losslessly enough as one of ours map to it (SMALLINT -> kInt32,
// DECIMAL and FLOAT -> kDouble, TIMESTAMP_MS -> kTimestamp, a zone-less TIMESTAMP read as UTC), the
// rest to nullopt (the query is refused and told to cast). SqlTypeName is the same edge in SQL.
duckdb_type DuckType(LogicalType t) {
  switch (t) {
    case LogicalType::kString:
      return DUCKDB_TYPE_VARCHAR;
    case LogicalType::kInt32:
      return DUCKDB_TYPE_INTEGER;
    case LogicalType::kInt64:
      return DUCKDB_TYPE_BIGINT;
    case LogicalType::kDouble:
      return DUCKDB_TYPE_DOUBLE;
    case LogicalType::kTimestamp:
      return DUCKDB_TYPE_TIMESTAMP_TZ;
    case LogicalType::kBool:
      return DUCKDB_TYPE_BOOLEAN;
    case LogicalType::kDate:
      return DUCKDB_TYPE_DATE;
  }
  return DUCKDB_TYPE_INVALID;
}

std::optional<LogicalType> LogicalTypeOf(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
      return LogicalType::kBool;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
      return LogicalType::kInt32;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
      return LogicalType::kInt64;
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
      return LogicalType::kDouble;
    case DUCKDB_TYPE_VARCHAR:
      return LogicalType::kString;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return LogicalType::kTimestamp;
    case DUCKDB_TYPE_DATE:
      return LogicalType::kDate;
    default:
      return std::nullopt;
  }
}

// Sets a VARCHAR element without copying the bytes into the vector. duckdb_string_t (its layout is
// public in duckdb.h) is non-owning: up to 12 bytes are inlined (zero-padded, DuckDB compares the
// whole struct), longer strings keep a 4-byte prefix and point at `s`. Pointing at the batch is
// sound because every reader of our chunks copies what it keeps before we return: the appender
// copies into its buffer in duckdb_append_data_chunk, and the COPY sink copies into its row-group
// buffer while CopyToParquet still holds the batch. Saves a copy per long string (perf: ~8% of a
// Parquet write went to duckdb_vector_assign_string_element_len and its string heap).
void SetStringElement(duckdb_string_t* out, std::string_view s) {
  out->value.inlined.length = static_cast<uint32_t>(s.size());
  if (s.size() <= sizeof(out->value.inlined.inlined)) {
    std::memset(out->value.inlined.inlined, 0, sizeof(out->value.inlined.inlined));
    if (!s.empty()) std::memcpy(out->value.inlined.inlined, s.data(), s.size());
  } else {
    std::memcpy(out->value.pointer.prefix, s.data(), sizeof(out->value.pointer.prefix));
    out->value.pointer.ptr = const_cast<char*>(s.data());
  }
}

// Fills `chunk` (fresh or reset; its vectors typed as DuckType of the columns) with rows
// [start, start + n) of the given columns and sets its size. n <= duckdb_vector_size(). The one
// place RecordBatch values become DuckDB vectors: the appender and the row scan both use it.
void FillChunk(duckdb_data_chunk chunk, const RecordBatch& batch, std::span<const int> columns,
               size_t start, size_t n) {
  for (size_t k = 0; k < columns.size(); ++k) {
    const Column& col = batch.column(static_cast<size_t>(columns[k]));
    duckdb_vector v = duckdb_data_chunk_get_vector(chunk, k);
    void* data = duckdb_vector_get_data(v);
    bool any_null = false;
    for (size_t r = 0; r < n && !any_null; ++r) any_null = col.IsNull(start + r);
    uint64_t* validity = duckdb_vector_get_validity(v);
    if (any_null && validity == nullptr) {
      duckdb_vector_ensure_validity_writable(v);
      validity = duckdb_vector_get_validity(v);
    }
    if (validity != nullptr) {
      // A mask left over from earlier rows: mark every row first, then the nulls below.
      for (size_t r = 0; r < n; ++r) duckdb_validity_set_row_valid(validity, r);
    }
    switch (col.type()) {
      case LogicalType::kString: {
        auto* out = static_cast<duckdb_string_t*>(data);
        for (size_t r = 0; r < n; ++r) {
          if (col.IsNull(start + r)) continue;
          SetStringElement(out + r, col.GetString(start + r));
        }
        break;
      }
      case LogicalType::kInt32:
      case LogicalType::kDate: {  // duckdb_date is {int32_t days}
        auto* out = static_cast<int32_t*>(data);
        for (size_t r = 0; r < n; ++r) out[r] = col.GetInt32(start + r);
        break;
      }
      case LogicalType::kInt64:
      case LogicalType::kTimestamp: {
        auto* out = static_cast<int64_t*>(data);
        for (size_t r = 0; r < n; ++r) out[r] = col.GetInt64(start + r);
        break;
      }
      case LogicalType::kDouble: {
        auto* out = static_cast<double*>(data);
        for (size_t r = 0; r < n; ++r) out[r] = col.GetDouble(start + r);
        break;
      }
      case LogicalType::kBool: {
        auto* out = static_cast<bool*>(data);
        for (size_t r = 0; r < n; ++r) out[r] = col.GetBool(start + r);
        break;
      }
    }
    if (any_null) {
      for (size_t r = 0; r < n; ++r) {
        if (col.IsNull(start + r)) duckdb_validity_set_row_invalid(validity, r);
      }
    }
  }
  duckdb_data_chunk_set_size(chunk, n);
}

// ------------------------------------------------------------------------------------- Row scan
//
// Connection::CopyToParquet hands DuckDB its rows through the table function kRowScanFunction.
// SQL can only carry values, and `smartcity sql` users write SQL too, so the function never takes
// a pointer: a CopyToParquet call registers its rows here under a random token for the length of
// the call, and the function looks the token up. An unknown or expired token is a bind error.

// The rows of one CopyToParquet call. `mu` is held while a chunk is filled; Remove() takes it
// after unlisting the source, so once Remove() returns no fill is running and none starts.
struct RowSource {
  Mutex mu;
  std::vector<RowRange> ranges GUARDED_BY(mu);       // their batches are valid while `live`
  const Schema* schema PT_GUARDED_BY(mu) = nullptr;  // the batches' schema (valid while `live`)
  std::vector<int> columns;
  size_t rows = 0;
  bool live GUARDED_BY(mu) = true;
};

class RowSourceRegistry {
 public:
  static RowSourceRegistry& Get() {
    static RowSourceRegistry* r = new RowSourceRegistry();  // never destroyed: used at exit too
    return *r;
  }

  uint64_t Add(std::shared_ptr<RowSource> source) {
    MutexLock lock(&mu_);
    int64_t token;
    do {
      token = rng_() >> 2;  // a positive BIGINT literal in the SQL text
    } while (token == 0 || sources_.count(token) != 0);
    sources_.emplace(token, std::move(source));
    return token;
  }

  std::shared_ptr<RowSource> Find(int64_t token) {
    MutexLock lock(&mu_);
    auto it = sources_.find(token);
    return it == sources_.end() ? nullptr : it->second;
  }

  void Remove(int64_t token) {
    std::shared_ptr<RowSource> source;
    {
      MutexLock lock(&mu_);
      auto it = sources_.find(token);
      if (it == sources_.end()) return;
      source = std::move(it->second);
      sources_.erase(it);
    }
    MutexLock lock(&source->mu);
    source->live = false;
  }

 private:
  RowSourceRegistry() : rng_(std::random_device{}()) {}
  Mutex mu_;
  std::mt19937_64 rng_ GUARDED_BY(mu_);
  std::unordered_map<int64_t, std::shared_ptr<RowSource>> sources_ GUARDED_BY(mu_);
};

// Unlists a source on every path out of CopyToParquet.
class RowSourceGuard {
 public:
  explicit RowSourceGuard(int64_t token) : token_(token) {}
  ~RowSourceGuard() { RowSourceRegistry::Get().Remove(token_); }
  RowSourceGuard(const RowSourceGuard&) = delete;
  RowSourceGuard& operator=(const RowSourceGuard&) = delete;

 private:
  int64_t token_;
};

constexpr const char* kUnknownToken =
    "smartcity_batch_rows(): this token names no Parquet write in progress (the function is "
    "internal to smartcity's lake writer)";

struct RowScanBind {
  int64_t token = 0;
};

struct RowScanState {
  size_t range = 0;  // the range being produced
  size_t next = 0;   // its rows already produced, counted from its begin
};

void RowScanBindFn(duckdb_bind_info info) {
  duckdb_value v = duckdb_bind_get_parameter(info, 0);
  const bool null = v == nullptr || duckdb_is_null_value(v);
  const int64_t token = null ? 0 : duckdb_get_int64(v);
  if (v != nullptr) duckdb_destroy_value(&v);
  std::shared_ptr<RowSource> source = null ? nullptr : RowSourceRegistry::Get().Find(token);
  if (source == nullptr) {
    duckdb_bind_set_error(info, kUnknownToken);
    return;
  }
  {
    MutexLock lock(&source->mu);
    if (!source->live) {
      duckdb_bind_set_error(info, kUnknownToken);
      return;
    }
    for (int c : source->columns) {
      const ColumnSpec& spec = source->schema->columns[static_cast<size_t>(c)];
      duckdb_logical_type lt = duckdb_create_logical_type(DuckType(spec.type));
      duckdb_bind_add_result_column(info, spec.name.c_str(), lt);
      duckdb_destroy_logical_type(&lt);
    }
    duckdb_bind_set_cardinality(info, source->rows, true);
  }
  duckdb_bind_set_bind_data(info, new RowScanBind{token},
                            [](void* p) { delete static_cast<RowScanBind*>(p); });
}

void RowScanInitFn(duckdb_init_info info) {
  duckdb_init_set_init_data(info, new RowScanState{},
                            [](void* p) { delete static_cast<RowScanState*>(p); });
}

void RowScanFn(duckdb_function_info info, duckdb_data_chunk output) {
  const auto* bind = static_cast<const RowScanBind*>(duckdb_function_get_bind_data(info));
  auto* state = static_cast<RowScanState*>(duckdb_function_get_init_data(info));
  std::shared_ptr<RowSource> source = RowSourceRegistry::Get().Find(bind->token);
  if (source == nullptr) {
    duckdb_function_set_error(info, kUnknownToken);
    return;
  }
  MutexLock lock(&source->mu);
  if (!source->live) {
    duckdb_function_set_error(info, kUnknownToken);
    return;
  }
  // A chunk never spans two ranges: one shorter than a vector ends each range (DuckDB takes chunks
  // of any size up to a vector's).
  while (state->range < source->ranges.size() &&
         state->next == source->ranges[state->range].size()) {
    ++state->range;
    state->next = 0;
  }
  if (state->range == source->ranges.size()) {
    duckdb_data_chunk_set_size(output, 0);
    return;
  }
  const RowRange& r = source->ranges[state->range];
  const size_t first = r.begin + state->next;
  const size_t n = std::min<size_t>(duckdb_vector_size(), r.end - first);
  FillChunk(output, *r.batch, source->columns, first, n);
  state->next += n;
}

Status RegisterRowScan(duckdb_connection conn) {
  duckdb_table_function f = duckdb_create_table_function();
  std::string name(kRowScanFunction);
  duckdb_table_function_set_name(f, name.c_str());
  duckdb_logical_type token_type = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_table_function_add_parameter(f, token_type);
  duckdb_destroy_logical_type(&token_type);
  duckdb_table_function_set_bind(f, RowScanBindFn);
  duckdb_table_function_set_init(f, RowScanInitFn);
  duckdb_table_function_set_function(f, RowScanFn);
  const duckdb_state st = duckdb_register_table_function(conn, f);
  duckdb_destroy_table_function(&f);
  if (st == DuckDBError) {
    return Status::Internal(fmt::format("cannot register DuckDB table function {}", name));
  }
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------------------- Database

namespace {

bool OpenDuckDb(const std::string& path, duckdb_config config, duckdb_database* out,
                std::string* error_message) {
  char* error = nullptr;
  if (duckdb_open_ext(path.c_str(), out, config, &error) != DuckDBError) return true;
  *error_message = error != nullptr ? error : "unknown error";
  if (error != nullptr) duckdb_free(error);
  *out = nullptr;
  return false;
}

// Creates the database file `path` if there is none, whole: DuckDB writes a new file's headers one
// after the other, and a process killed between two leaves a file that never opens again ("exists,
// but it is not a valid DuckDB database file"). So the file is made under a name of its own
// ("<path>.creating-<pid>-<random>"), closed (DuckDB syncs it), and linked into place: `path` is
// either absent or a database. link() does not replace a file another process made meanwhile.
Status CreateWhole(const std::string& path, duckdb_config config) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) return Status::OK();  // DuckDB's open says why
  const std::filesystem::path file(path);
  const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : ".";
  const std::string prefix = file.filename().string() + ".creating-";
  // What creators killed here left: a creation takes milliseconds, so anything older than ten
  // minutes is (pids say nothing across containers sharing the folder).
  const auto stale = std::filesystem::file_time_type::clock::now() - std::chrono::minutes(10);
  std::filesystem::directory_iterator it(folder, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (!it->path().filename().string().starts_with(prefix)) continue;
    std::error_code ignored;
    const auto written = std::filesystem::last_write_time(it->path(), ignored);
    if (!ignored && written < stale) std::filesystem::remove(it->path(), ignored);
  }
  std::random_device random;
  const std::string tmp = fmt::format("{}.creating-{}-{:08x}", path, ::getpid(), random());
  duckdb_database made = nullptr;
  std::string msg;
  if (!OpenDuckDb(tmp, config, &made, &msg)) {
    return Status::IOError(fmt::format("cannot create DuckDB database {}: {}", path, msg));
  }
  duckdb_close(&made);
  // A write-ahead log whose database file is gone would be replayed into the new one.
  if (!std::filesystem::exists(path, ec)) ::unlink((path + ".wal").c_str());
  int linked = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  if (linked != 0 && (link_errno == EPERM || link_errno == ENOTSUP || link_errno == ENOSYS)) {
    // No hard links on this file system (vfat, some FUSE ones): a rename that replaces nothing.
    linked = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    link_errno = errno;
    if (linked != 0 && link_errno != EEXIST) {
      // Nor that: DuckDB creates the file in place, as it would by itself.
      ::unlink(tmp.c_str());
      return Status::OK();
    }
  }
  ::unlink(tmp.c_str());
  ::unlink((tmp + ".wal").c_str());
  if (linked != 0 && link_errno != EEXIST) {
    return Status::IOError(
        fmt::format("cannot create DuckDB database {}: {}", path, std::strerror(link_errno)));
  }
  // The new name is durable once its folder is.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const DatabaseOptions& options) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) {
    return Status::Internal("cannot create a DuckDB configuration (out of memory?)");
  }
  std::map<std::string, std::string> settings = options.settings;
  std::unique_ptr<Database> db(new Database());
  db->path_ = path.empty() ? ":memory:" : path;
  if (db->path_ == ":memory:" && settings.count("temp_directory") == 0) {
    // An in-memory database spills to "<working directory>/.tmp" by default, under the same file
    // names in every database of the process: two that spill at once (the lake writer and the
    // maintenance's, say) overwrite each other's blocks. Each gets a folder of its own.
    static std::atomic<uint64_t> next{0};
    std::error_code ec;
    db->temp_dir_ = std::filesystem::temp_directory_path(ec) /
                    fmt::format("smartcity-duckdb-{}-{}", ::getpid(), next++);
    settings["temp_directory"] = db->temp_dir_.string();
  }
  for (const auto& [name, value] : settings) {
    if (duckdb_set_config(config, name.c_str(), value.c_str()) == DuckDBError) {
      duckdb_destroy_config(&config);
      return Status::InvalidArgument(fmt::format("DuckDB setting {}={} is not valid", name, value));
    }
  }
  if (db->path_ != ":memory:") {
    if (Status s = CreateWhole(db->path_, config); !s.ok()) {
      duckdb_destroy_config(&config);
      return s;
    }
  }
  std::string msg;
  const bool opened = OpenDuckDb(db->path_, config, &db->db_, &msg);
  duckdb_destroy_config(&config);
  if (!opened) {
    return Status::IOError(fmt::format("cannot open DuckDB database {}: {}", db->path_, msg));
  }
  // Functions live in the database's system catalog: one registration serves every connection.
  SC_ASSIGN_OR_RETURN(auto conn, db->Connect());
  SC_RETURN_IF_ERROR(RegisterRowScan(conn->conn_));
  return db;
}

void HandBackFreedMemorySoon(DatabaseOptions* options) {
  // Lower made no difference: `run --speedup max --vehicles 100`, one city day, peak RSS 292 MiB
  // with 16 MiB, 303 MiB with 4 MiB (one run each, within the noise).
  options->settings["allocator_flush_threshold"] = "16MiB";
  options->settings["allocator_bulk_deallocation_flush_threshold"] = "16MiB";
}

Database::~Database() {
  if (db_ != nullptr) duckdb_close(&db_);
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
}

Result<std::unique_ptr<Connection>> Database::Connect() {
  std::unique_ptr<Connection> c(new Connection());
  if (duckdb_connect(db_, &c->conn_) == DuckDBError) {
    c->conn_ = nullptr;
    return Status::Internal(fmt::format("cannot connect to DuckDB database {}", path_));
  }
  return c;
}

// ------------------------------------------------------------------------ display text (kDisplay)

namespace {

// True when DisplayText renders every value of `t` (recursively for nested types).
bool DisplayableType(duckdb_logical_type t) {
  switch (duckdb_get_type_id(t)) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_ENUM:
      return true;
    case DUCKDB_TYPE_LIST: {
      duckdb_logical_type child = duckdb_list_type_child_type(t);
      const bool ok = DisplayableType(child);
      duckdb_destroy_logical_type(&child);
      return ok;
    }
    case DUCKDB_TYPE_ARRAY: {
      duckdb_logical_type child = duckdb_array_type_child_type(t);
      const bool ok = DisplayableType(child);
      duckdb_destroy_logical_type(&child);
      return ok;
    }
    case DUCKDB_TYPE_MAP: {
      duckdb_logical_type k = duckdb_map_type_key_type(t);
      duckdb_logical_type v = duckdb_map_type_value_type(t);
      const bool ok = DisplayableType(k) && DisplayableType(v);
      duckdb_destroy_logical_type(&k);
      duckdb_destroy_logical_type(&v);
      return ok;
    }
    case DUCKDB_TYPE_STRUCT: {
      bool ok = true;
      for (idx_t i = 0; ok && i < duckdb_struct_type_child_count(t); ++i) {
        duckdb_logical_type child = duckdb_struct_type_child_type(t, i);
        ok = DisplayableType(child);
        duckdb_destroy_logical_type(&child);
      }
      return ok;
    }
    default:
      return false;
  }
}

// Decimal text of a 128-bit integer.
std::string Int128Text(unsigned __int128 v, bool negative) {
  char buf[48];
  char* p = buf + sizeof buf;
  do {
    *--p = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  if (negative) *--p = '-';
  return std::string(p, buf + sizeof buf);
}

std::string HugeintText(duckdb_hugeint h) {
  const __int128 v = (static_cast<__int128>(h.upper) << 64) | h.lower;
  if (v < 0) return Int128Text(-static_cast<unsigned __int128>(v), true);
  return Int128Text(static_cast<unsigned __int128>(v), false);
}

// A scaled integer as its exact decimal: (12345, 2) -> "123.45", (-5, 3) -> "-0.005".
std::string DecimalText(__int128 v, uint8_t scale) {
  const bool negative = v < 0;
  std::string digits = Int128Text(
      negative ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v), false);
  if (scale == 0) return (negative ? "-" : "") + digits;
  if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
  digits.insert(digits.size() - scale, 1, '.');
  return (negative ? "-" : "") + digits;
}

// NaN, Infinity, -Infinity, else the shortest text that reads back as the same value.
template <typename F>
std::string FloatText(F d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", d);
}

// Microseconds of a day as HH:MM:SS[.ffffff] (trailing zeros of the fraction dropped).
std::string TimeOfDayText(int64_t micros) {
  std::string out = fmt::format("{:02}:{:02}:{:02}", micros / 3'600'000'000,
                                micros / 60'000'000 % 60, micros / 1'000'000 % 60);
  if (int64_t frac = micros % 1'000'000; frac != 0) {
    std::string f = fmt::format("{:06}", frac);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out;
}

std::string IntervalText(const duckdb_interval& iv) {
  std::string out;
  auto plural = [](int64_t n) { return n == 1 || n == -1 ? "" : "s"; };
  auto add = [&](const std::string& part) {
    if (!out.empty()) out += ' ';
    out += part;
  };
  if (const int64_t years = iv.months / 12; years != 0) {
    add(fmt::format("{} year{}", years, plural(years)));
  }
  if (const int64_t months = iv.months % 12; months != 0) {
    add(fmt::format("{} month{}", months, plural(months)));
  }
  if (iv.days != 0) add(fmt::format("{} day{}", iv.days, plural(iv.days)));
  if (iv.micros != 0 || out.empty()) {
    if (!out.empty()) out += ' ';
    const uint64_t m =
        iv.micros < 0 ? 0 - static_cast<uint64_t>(iv.micros) : static_cast<uint64_t>(iv.micros);
    out += (iv.micros < 0 ? "-" : "") + TimeOfDayText(static_cast<int64_t>(m));
  }
  return out;
}

std::string QuoteNested(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

bool RowValid(duckdb_vector v, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(v);
  return validity == nullptr || duckdb_validity_row_is_valid(validity, row);
}

// The text of row `row` of vector `v` of type `t` (a valid row; DisplayableType(t)). `nested`:
// inside a LIST/STRUCT/MAP, where strings are quoted.
std::string DisplayText(duckdb_vector v, duckdb_logical_type t, idx_t row, bool nested) {
  void* data = duckdb_vector_get_data(v);
  switch (duckdb_get_type_id(t)) {
    case DUCKDB_TYPE_BOOLEAN:
      return static_cast<bool*>(data)[row] ? "true" : "false";
    case DUCKDB_TYPE_TINYINT:
      return std::to_string(static_cast<int8_t*>(data)[row]);
    case DUCKDB_TYPE_SMALLINT:
      return std::to_string(static_cast<int16_t*>(data)[row]);
    case DUCKDB_TYPE_INTEGER:
      return std::to_string(static_cast<int32_t*>(data)[row]);
    case DUCKDB_TYPE_BIGINT:
      return std::to_string(static_cast<int64_t*>(data)[row]);
    case DUCKDB_TYPE_UTINYINT:
      return std::to_string(static_cast<uint8_t*>(data)[row]);
    case DUCKDB_TYPE_USMALLINT:
      return std::to_string(static_cast<uint16_t*>(data)[row]);
    case DUCKDB_TYPE_UINTEGER:
      return std::to_string(static_cast<uint32_t*>(data)[row]);
    case DUCKDB_TYPE_UBIGINT:
      return std::to_string(static_cast<uint64_t*>(data)[row]);
    case DUCKDB_TYPE_HUGEINT:
      return HugeintText(static_cast<duckdb_hugeint*>(data)[row]);
    case DUCKDB_TYPE_UHUGEINT: {
      const duckdb_uhugeint h = static_cast<duckdb_uhugeint*>(data)[row];
      return Int128Text((static_cast<unsigned __int128>(h.upper) << 64) | h.lower, false);
    }
    case DUCKDB_TYPE_FLOAT:
      return FloatText(static_cast<float*>(data)[row]);
    case DUCKDB_TYPE_DOUBLE:
      return FloatText(static_cast<double*>(data)[row]);
    case DUCKDB_TYPE_DECIMAL: {
      const uint8_t scale = duckdb_decimal_scale(t);
      switch (duckdb_decimal_internal_type(t)) {
        case DUCKDB_TYPE_SMALLINT:
          return DecimalText(static_cast<int16_t*>(data)[row], scale);
        case DUCKDB_TYPE_INTEGER:
          return DecimalText(static_cast<int32_t*>(data)[row], scale);
        case DUCKDB_TYPE_BIGINT:
          return DecimalText(static_cast<int64_t*>(data)[row], scale);
        default: {
          const duckdb_hugeint h = static_cast<duckdb_hugeint*>(data)[row];
          return DecimalText((static_cast<__int128>(h.upper) << 64) | h.lower, scale);
        }
      }
    }
    case DUCKDB_TYPE_VARCHAR: {
      auto* s = static_cast<duckdb_string_t*>(data) + row;
      std::string_view text(duckdb_string_t_data(s), duckdb_string_t_length(*s));
      return nested ? QuoteNested(text) : std::string(text);
    }
    case DUCKDB_TYPE_BLOB: {
      auto* s = static_cast<duckdb_string_t*>(data) + row;
      const char* p = duckdb_string_t_data(s);
      std::string out;
      for (uint32_t i = 0; i < duckdb_string_t_length(*s); ++i) {
        const auto b = static_cast<unsigned char>(p[i]);
        if (b >= 32 && b < 127 && b != '\\' && b != '\'') {
          out += static_cast<char>(b);
        } else {
          out += fmt::format("\\x{:02X}", b);
        }
      }
      return nested ? "'" + out + "'" : out;
    }
    case DUCKDB_TYPE_DATE:
      return FormatDate(static_cast<int32_t*>(data)[row]);
    case DUCKDB_TYPE_TIMESTAMP_S:
      return FormatTimestamp(EventTime(Micros(static_cast<int64_t*>(data)[row] * 1'000'000)));
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return FormatTimestamp(EventTime(Micros(static_cast<int64_t*>(data)[row] * 1000)));
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return FormatTimestamp(EventTime(Micros(static_cast<int64_t*>(data)[row] / 1000)));
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return FormatTimestamp(EventTime(Micros(static_cast<int64_t*>(data)[row])));
    case DUCKDB_TYPE_TIME:
      return TimeOfDayText(static_cast<duckdb_time*>(data)[row].micros);
    case DUCKDB_TYPE_TIME_TZ: {
      const duckdb_time_tz_struct tz = duckdb_from_time_tz(static_cast<duckdb_time_tz*>(data)[row]);
      const int64_t micros =
          ((tz.time.hour * 60LL + tz.time.min) * 60 + tz.time.sec) * 1'000'000 + tz.time.micros;
      const int32_t off = tz.offset;
      const int32_t a = off < 0 ? -off : off;
      std::string out =
          TimeOfDayText(micros) + fmt::format("{}{:02}", off < 0 ? '-' : '+', a / 3600);
      if (a % 3600 != 0) out += fmt::format(":{:02}", a % 3600 / 60);
      return out;
    }
    case DUCKDB_TYPE_INTERVAL:
      return IntervalText(static_cast<duckdb_interval*>(data)[row]);
    case DUCKDB_TYPE_UUID: {
      // Stored as a HUGEINT with the top bit flipped (so that UUIDs sort as their text).
      const duckdb_hugeint h = static_cast<duckdb_hugeint*>(data)[row];
      const uint64_t hi = static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63);
      const uint64_t lo = h.lower;
      std::string out =
          fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                      hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
      return nested ? "'" + out + "'" : out;
    }
    case DUCKDB_TYPE_ENUM: {
      uint64_t index = 0;
      switch (duckdb_enum_internal_type(t)) {
        case DUCKDB_TYPE_UTINYINT:
          index = static_cast<uint8_t*>(data)[row];
          break;
        case DUCKDB_TYPE_USMALLINT:
          index = static_cast<uint16_t*>(data)[row];
          break;
        default:
          index = static_cast<uint32_t*>(data)[row];
      }
      char* name = duckdb_enum_dictionary_value(t, index);
      std::string out = name != nullptr ? name : "";
      if (name != nullptr) duckdb_free(name);
      return nested ? QuoteNested(out) : out;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_MAP: {
      const bool map = duckdb_get_type_id(t) == DUCKDB_TYPE_MAP;
      const duckdb_list_entry e = static_cast<duckdb_list_entry*>(data)[row];
      duckdb_vector child = duckdb_list_vector_get_child(v);
      std::string out = map ? "{" : "[";
      if (map) {
        duckdb_logical_type kt = duckdb_map_type_key_type(t);
        duckdb_logical_type vt = duckdb_map_type_value_type(t);
        duckdb_vector keys = duckdb_struct_vector_get_child(child, 0);
        duckdb_vector values = duckdb_struct_vector_get_child(child, 1);
        for (idx_t i = 0; i < e.length; ++i) {
          if (i) out += ", ";
          const idx_t r = e.offset + i;
          out += RowValid(keys, r) ? DisplayText(keys, kt, r, true) : "NULL";
          out += '=';
          out += RowValid(values, r) ? DisplayText(values, vt, r, true) : "NULL";
        }
        duckdb_destroy_logical_type(&kt);
        duckdb_destroy_logical_type(&vt);
      } else {
        duckdb_logical_type ct = duckdb_list_type_child_type(t);
        for (idx_t i = 0; i < e.length; ++i) {
          if (i) out += ", ";
          const idx_t r = e.offset + i;
          out += RowValid(child, r) ? DisplayText(child, ct, r, true) : "NULL";
        }
        duckdb_destroy_logical_type(&ct);
      }
      return out + (map ? "}" : "]");
    }
    case DUCKDB_TYPE_ARRAY: {
      const idx_t size = duckdb_array_type_array_size(t);
      duckdb_vector child = duckdb_array_vector_get_child(v);
      duckdb_logical_type ct = duckdb_array_type_child_type(t);
      std::string out = "[";
      for (idx_t i = 0; i < size; ++i) {
        if (i) out += ", ";
        const idx_t r = row * size + i;
        out += RowValid(child, r) ? DisplayText(child, ct, r, true) : "NULL";
      }
      duckdb_destroy_logical_type(&ct);
      return out + "]";
    }
    case DUCKDB_TYPE_STRUCT: {
      std::string out = "{";
      for (idx_t i = 0; i < duckdb_struct_type_child_count(t); ++i) {
        if (i) out += ", ";
        char* name = duckdb_struct_type_child_name(t, i);
        out += QuoteNested(name != nullptr ? name : "") + ": ";
        if (name != nullptr) duckdb_free(name);
        duckdb_logical_type ct = duckdb_struct_type_child_type(t, i);
        duckdb_vector child = duckdb_struct_vector_get_child(v, i);
        out += RowValid(child, row) ? DisplayText(child, ct, row, true) : "NULL";
        duckdb_destroy_logical_type(&ct);
      }
      return out + "}";
    }
    default:
      return "";
  }
}

}  // namespace

// ------------------------------------------------------------------------------------- QueryResult

// Values copied out of DuckDB's chunks, one typed vector per column, so reads are plain array
// access and the result does not depend on DuckDB's deprecated value API.
struct QueryResult::Impl {
  struct Col {
    std::string name;
    LogicalType type = LogicalType::kString;
    std::vector<uint8_t> valid;
    std::vector<int64_t> ints;  // bool, integers, timestamps (micros), dates (days)
    std::vector<double> doubles;
    std::vector<std::string> strings;
    bool number_text = false;  // kDisplay: exact numbers as text
  };
  std::vector<Col> cols;
};

QueryResult::QueryResult() : impl_(std::make_unique<Impl>()) {}
QueryResult::~QueryResult() = default;
QueryResult::QueryResult(QueryResult&& o) noexcept = default;
QueryResult& QueryResult::operator=(QueryResult&& o) noexcept = default;

std::string QueryResult::column_name(size_t col) const {
  return impl_->cols[col].name;
}
LogicalType QueryResult::column_type(size_t col) const {
  return impl_->cols[col].type;
}
bool QueryResult::is_number_text(size_t col) const {
  return impl_->cols[col].number_text;
}

int QueryResult::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < impl_->cols.size(); ++i) {
    if (impl_->cols[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool QueryResult::IsNull(size_t col, size_t row) const {
  return impl_->cols[col].valid[row] == 0;
}

bool QueryResult::GetBool(size_t col, size_t row) const {
  return GetInt64(col, row) != 0;
}

int64_t QueryResult::GetInt64(size_t col, size_t row) const {
  const Impl::Col& c = impl_->cols[col];
  if (c.type == LogicalType::kDouble) return static_cast<int64_t>(c.doubles[row]);
  if (c.type == LogicalType::kString) return std::stoll(c.strings[row]);
  return c.ints[row];
}

double QueryResult::GetDouble(size_t col, size_t row) const {
  const Impl::Col& c = impl_->cols[col];
  if (c.type == LogicalType::kDouble) return c.doubles[row];
  if (c.type == LogicalType::kString) return std::stod(c.strings[row]);
  return static_cast<double>(c.ints[row]);
}

EventTime QueryResult::GetTimestamp(size_t col, size_t row) const {
  return EventTime(Micros(impl_->cols[col].ints[row]));
}

std::string QueryResult::GetString(size_t col, size_t row) const {
  const Impl::Col& c = impl_->cols[col];
  switch (c.type) {
    case LogicalType::kString:
      return c.strings[row];
    case LogicalType::kDouble:
      return fmt::format("{}", c.doubles[row]);
    case LogicalType::kBool:
      return c.ints[row] != 0 ? "true" : "false";
    case LogicalType::kTimestamp:
      return FormatTimestamp(EventTime(Micros(c.ints[row])));
    case LogicalType::kDate:
      return FormatDate(c.ints[row]);
    case LogicalType::kInt32:
    case LogicalType::kInt64:
      break;
  }
  return std::to_string(c.ints[row]);
}

// ------------------------------------------------------------------------------------- Connection

Connection::~Connection() {
  if (conn_ != nullptr) duckdb_disconnect(&conn_);
}

Result<QueryResult> Connection::Query(std::string_view sql) {
  std::string text(sql);
  duckdb_result res;
  if (duckdb_query(conn_, text.c_str(), &res) == DuckDBError) {
    return TakeError(&res);
  }
  return QueryResult::Materialize(&res, ResultForm::kValues);
}

void Connection::Interrupt() {
  duckdb_interrupt(conn_);
}

Result<QueryResult> QueryResult::Materialize(void* duckdb_result_ptr, ResultForm form) {
  duckdb_result& res = *static_cast<duckdb_result*>(duckdb_result_ptr);
  QueryResult out;
  const idx_t ncols = duckdb_column_count(&res);
  out.columns_ = ncols;
  out.impl_->cols.resize(ncols);
  std::vector<duckdb_type> ids(ncols);
  std::vector<duckdb_type> decimal_internal(ncols, DUCKDB_TYPE_INVALID);
  std::vector<double> decimal_div(ncols, 1.0);
  // kDisplay: the columns read as text (owned logical types, destroyed below).
  std::vector<duckdb_logical_type> text_types(ncols, nullptr);
  Status bad;
  for (idx_t i = 0; i < ncols; ++i) {
    auto& c = out.impl_->cols[i];
    c.name = duckdb_column_name(&res, i);
    duckdb_logical_type lt = duckdb_column_logical_type(&res, i);
    ids[i] = duckdb_get_type_id(lt);
    const std::optional<LogicalType> type = LogicalTypeOf(ids[i]);
    const bool exact_number = ids[i] == DUCKDB_TYPE_HUGEINT || ids[i] == DUCKDB_TYPE_UHUGEINT ||
                              ids[i] == DUCKDB_TYPE_UBIGINT || ids[i] == DUCKDB_TYPE_DECIMAL;
    if (form == ResultForm::kDisplay && (!type || exact_number) && DisplayableType(lt)) {
      c.type = LogicalType::kString;
      c.number_text = exact_number;
      text_types[i] = lt;
      continue;
    }
    if (type) {
      c.type = *type;
      if (ids[i] == DUCKDB_TYPE_DECIMAL) {
        decimal_internal[i] = duckdb_decimal_internal_type(lt);
        for (uint8_t s = duckdb_decimal_scale(lt); s > 0; --s) decimal_div[i] *= 10;
      }
    } else if (bad.ok()) {
      bad =
          Status::InvalidArgument(fmt::format("result column \"{}\" has type {} that the "
                                              "engine does not read; cast it in the query "
                                              "(for example CAST(\"{}\" AS VARCHAR))",
                                              c.name, TypeNameOf(lt), c.name));
    }
    duckdb_destroy_logical_type(&lt);
  }
  if (!bad.ok()) {
    for (duckdb_logical_type& t : text_types) {
      if (t != nullptr) duckdb_destroy_logical_type(&t);
    }
    duckdb_destroy_result(&res);
    return bad;
  }
  while (true) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    if (chunk == nullptr) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk);
    for (idx_t i = 0; i < ncols; ++i) {
      auto& c = out.impl_->cols[i];
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, i);
      void* data = duckdb_vector_get_data(v);
      uint64_t* validity = duckdb_vector_get_validity(v);
      if (text_types[i] != nullptr) {
        for (idx_t r = 0; r < n; ++r) {
          const bool ok = validity == nullptr || duckdb_validity_row_is_valid(validity, r);
          c.valid.push_back(ok ? 1 : 0);
          c.strings.push_back(ok ? DisplayText(v, text_types[i], r, /*nested=*/false) : "");
        }
        continue;
      }
      for (idx_t r = 0; r < n; ++r) {
        const bool ok = validity == nullptr || duckdb_validity_row_is_valid(validity, r);
        c.valid.push_back(ok ? 1 : 0);
        if (c.type == LogicalType::kString) {
          if (!ok) {
            c.strings.emplace_back();
            continue;
          }
          auto* s = static_cast<duckdb_string_t*>(data) + r;
          c.strings.emplace_back(duckdb_string_t_data(s), duckdb_string_t_length(*s));
          continue;
        }
        if (c.type == LogicalType::kDouble) {
          double d = 0;
          if (ok) {
            switch (ids[i]) {
              case DUCKDB_TYPE_FLOAT:
                d = static_cast<float*>(data)[r];
                break;
              case DUCKDB_TYPE_DOUBLE:
                d = static_cast<double*>(data)[r];
                break;
              default:  // DECIMAL
                switch (decimal_internal[i]) {
                  case DUCKDB_TYPE_SMALLINT:
                    d = static_cast<int16_t*>(data)[r];
                    break;
                  case DUCKDB_TYPE_INTEGER:
                    d = static_cast<int32_t*>(data)[r];
                    break;
                  case DUCKDB_TYPE_BIGINT:
                    d = static_cast<double>(static_cast<int64_t*>(data)[r]);
                    break;
                  default: {
                    auto h = static_cast<duckdb_hugeint*>(data)[r];
                    d = static_cast<double>(h.upper) * 18446744073709551616.0 +
                        static_cast<double>(h.lower);
                  }
                }
                d /= decimal_div[i];
            }
          }
          c.doubles.push_back(d);
          continue;
        }
        int64_t x = 0;
        if (ok) {
          switch (ids[i]) {
            case DUCKDB_TYPE_BOOLEAN:
              x = static_cast<bool*>(data)[r] ? 1 : 0;
              break;
            case DUCKDB_TYPE_TINYINT:
              x = static_cast<int8_t*>(data)[r];
              break;
            case DUCKDB_TYPE_SMALLINT:
              x = static_cast<int16_t*>(data)[r];
              break;
            case DUCKDB_TYPE_INTEGER:
              x = static_cast<int32_t*>(data)[r];
              break;
            case DUCKDB_TYPE_UTINYINT:
              x = static_cast<uint8_t*>(data)[r];
              break;
            case DUCKDB_TYPE_USMALLINT:
              x = static_cast<uint16_t*>(data)[r];
              break;
            case DUCKDB_TYPE_UINTEGER:
              x = static_cast<uint32_t*>(data)[r];
              break;
            case DUCKDB_TYPE_UBIGINT:
              x = static_cast<int64_t>(static_cast<uint64_t*>(data)[r]);
              break;
            case DUCKDB_TYPE_HUGEINT:
              x = static_cast<int64_t>(static_cast<duckdb_hugeint*>(data)[r].lower);
              break;
            case DUCKDB_TYPE_DATE:
              x = static_cast<int32_t*>(data)[r];
              break;
            case DUCKDB_TYPE_TIMESTAMP_S:
              x = static_cast<int64_t*>(data)[r] * 1000000;
              break;
            case DUCKDB_TYPE_TIMESTAMP_MS:
              x = static_cast<int64_t*>(data)[r] * 1000;
              break;
            case DUCKDB_TYPE_TIMESTAMP_NS:
              x = static_cast<int64_t*>(data)[r] / 1000;
              break;
            default:
              x = static_cast<int64_t*>(data)[r];  // BIGINT, TIMESTAMP, TIMESTAMP_TZ
          }
        }
        c.ints.push_back(x);
      }
    }
    out.rows_ += n;
    duckdb_destroy_data_chunk(&chunk);
  }
  for (duckdb_logical_type& t : text_types) {
    if (t != nullptr) duckdb_destroy_logical_type(&t);
  }
  duckdb_destroy_result(&res);
  return out;
}

Result<std::vector<std::unique_ptr<PreparedStatement>>> Connection::PrepareScript(
    std::string_view sql) {
  std::string text(sql);
  duckdb_extracted_statements extracted = nullptr;
  idx_t n = duckdb_extract_statements(conn_, text.c_str(), &extracted);
  if (n == 0) {
    const char* e = extracted != nullptr ? duckdb_extract_statements_error(extracted) : nullptr;
    std::string msg = e != nullptr ? e : "";
    duckdb_destroy_extracted(&extracted);
    if (msg.empty()) return Status::InvalidArgument("the SQL text holds no statement");
    return Status::InvalidArgument("query failed: " + msg);
  }
  std::vector<std::unique_ptr<PreparedStatement>> out;
  for (idx_t i = 0; i < n; ++i) {
    std::unique_ptr<PreparedStatement> p(new PreparedStatement());
    if (duckdb_prepare_extracted_statement(conn_, extracted, i, &p->stmt_) == DuckDBError) {
      const char* e = p->stmt_ != nullptr ? duckdb_prepare_error(p->stmt_) : nullptr;
      std::string msg = e != nullptr ? e : "unknown error";
      duckdb_destroy_extracted(&extracted);
      return Status::InvalidArgument("query failed: " + msg);
    }
    p->type_ = duckdb_prepared_statement_type(p->stmt_);
    out.push_back(std::move(p));
  }
  duckdb_destroy_extracted(&extracted);
  return out;
}

PreparedStatement::~PreparedStatement() {
  if (stmt_ != nullptr) duckdb_destroy_prepare(&stmt_);
}

bool PreparedStatement::IsQuery() const {
  // Not EXPLAIN: EXPLAIN ANALYZE runs the statement it explains, whatever that is.
  return type_ == DUCKDB_STATEMENT_TYPE_SELECT;
}

std::string PreparedStatement::TypeName() const {
  static constexpr const char* kNames[] = {
      "INVALID",     "SELECT",  "INSERT",   "UPDATE",       "EXPLAIN",
      "DELETE",      "PREPARE", "CREATE",   "EXECUTE",      "ALTER",
      "TRANSACTION", "COPY",    "ANALYZE",  "SET VARIABLE", "CREATE FUNCTION",
      "DROP",        "EXPORT",  "PRAGMA",   "VACUUM",       "CALL",
      "SET",         "LOAD",    "RELATION", "EXTENSION",    "LOGICAL PLAN",
      "ATTACH",      "DETACH",  "MULTI"};
  if (type_ >= 0 && type_ < static_cast<int>(std::size(kNames))) return kNames[type_];
  return "UNKNOWN";
}

Result<QueryResult> PreparedStatement::Execute(ResultForm form) {
  duckdb_result res;
  if (duckdb_execute_prepared(stmt_, &res) == DuckDBError) return TakeError(&res);
  return QueryResult::Materialize(&res, form);
}

Status Connection::Execute(std::string_view sql) {
  std::string text(sql);
  duckdb_result res;
  if (duckdb_query(conn_, text.c_str(), &res) == DuckDBError) {
    return TakeError(&res);
  }
  duckdb_destroy_result(&res);
  return Status::OK();
}

Status Connection::CopyToParquet(const RecordBatch& batch, std::span<const int> columns,
                                 size_t begin, size_t end, const std::string& path,
                                 const ParquetCopyOptions& options) {
  const RowRange range{&batch, begin, end};  // CopyRangesToParquet checks it
  // An empty range still names the batch: its schema gives the file's columns.
  return CopyRangesToParquet(batch.schema(), std::span(&range, 1), columns, path, options);
}

Status Connection::CopyToParquet(std::span<const RowRange> ranges, std::span<const int> columns,
                                 const std::string& path, const ParquetCopyOptions& options) {
  if (ranges.empty() || ranges.front().batch == nullptr)
    return Status::InvalidArgument("no batch to write a Parquet file from");
  return CopyRangesToParquet(ranges.front().batch->schema(), ranges, columns, path, options);
}

Status Connection::CopyRangesToParquet(const Schema& schema, std::span<const RowRange> ranges,
                                       std::span<const int> columns, const std::string& path,
                                       const ParquetCopyOptions& options) {
  // The scan reads the batches without further checks: refuse a range or column they do not hold.
  size_t rows = 0;
  for (const RowRange& r : ranges) {
    if (r.batch == nullptr || r.begin > r.end || r.end > r.batch->num_rows()) {
      return Status::InvalidArgument(fmt::format("rows [{}, {}) are not in a batch of {} rows",
                                                 r.begin, r.end,
                                                 r.batch == nullptr ? 0 : r.batch->num_rows()));
    }
    if (&r.batch->schema() != &schema && !(r.batch->schema() == schema))
      return Status::InvalidArgument("rows of batches of different schemas in one Parquet file");
    rows += r.size();
  }
  for (int c : columns) {
    if (c < 0 || static_cast<size_t>(c) >= schema.columns.size()) {
      return Status::InvalidArgument(
          fmt::format("column {} is not in a batch of {} columns", c, schema.columns.size()));
    }
  }
  auto source = std::make_shared<RowSource>();
  {
    MutexLock lock(&source->mu);
    source->ranges.assign(ranges.begin(), ranges.end());
  }
  source->schema = &schema;
  source->columns.assign(columns.begin(), columns.end());
  source->rows = rows;
  const int64_t token = RowSourceRegistry::Get().Add(std::move(source));
  RowSourceGuard unlist(token);
  return Execute(fmt::format("COPY (FROM {}({})) TO {} ({})", kRowScanFunction, token,
                             QuoteLiteral(path), ParquetCopyOptionsSql(options)));
}

std::string ParquetCopyOptionsSql(const ParquetCopyOptions& options) {
  std::string sql = fmt::format("FORMAT parquet, COMPRESSION {}, ROW_GROUP_SIZE {}",
                                QuoteLiteral(options.compression), options.row_group_rows);
  if (options.compression == "zstd")
    sql += fmt::format(", COMPRESSION_LEVEL {}", options.compression_level);
  if (!options.dictionary) sql += ", DICTIONARY_SIZE_LIMIT 1";
  if (!options.field_ids.empty()) {
    sql += ", FIELD_IDS {";
    for (size_t i = 0; i < options.field_ids.size(); ++i) {
      sql += fmt::format("{}{}: {}", i == 0 ? "" : ", ", QuoteLiteral(options.field_ids[i].column),
                         options.field_ids[i].id);
    }
    sql += "}";
  }
  return sql;
}

Result<std::unique_ptr<Appender>> Connection::MakeAppender(const std::string& table) {
  std::unique_ptr<Appender> a(new Appender());
  a->table_ = table;
  if (duckdb_appender_create(conn_, nullptr, table.c_str(), &a->app_) == DuckDBError) {
    const char* e = a->app_ != nullptr ? duckdb_appender_error(a->app_) : nullptr;
    std::string msg = e != nullptr ? e : "unknown error";
    if (a->app_ != nullptr) duckdb_appender_destroy(&a->app_);
    a->app_ = nullptr;
    return Status::InvalidArgument(fmt::format("cannot append to table {}: {}", table, msg));
  }
  return a;
}

// --------------------------------------------------------------------------------------- Appender

Appender::~Appender() {
  if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
  if (app_ != nullptr) duckdb_appender_destroy(&app_);
}

Status Appender::Check(int state, std::string_view what) {
  if (state != DuckDBError) return Status::OK();
  const char* e = duckdb_appender_error(app_);
  return Status::InvalidArgument(
      fmt::format("{} table {} failed: {}", what, table_, e != nullptr ? e : "unknown error"));
}

Status Appender::AppendColumns(const RecordBatch& batch, std::span<const int> columns, size_t begin,
                               size_t end) {
  std::vector<LogicalType> types;
  types.reserve(columns.size());
  for (int c : columns) types.push_back(batch.column(static_cast<size_t>(c)).type());
  if (chunk_ == nullptr || types != chunk_types_) {
    if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
    std::vector<duckdb_logical_type> lts;
    for (LogicalType t : types) lts.push_back(duckdb_create_logical_type(DuckType(t)));
    chunk_ = duckdb_create_data_chunk(lts.data(), lts.size());
    for (auto& lt : lts) duckdb_destroy_logical_type(&lt);
    chunk_types_ = types;
  }
  const size_t cap = duckdb_vector_size();
  for (size_t start = begin; start < end; start += cap) {
    duckdb_data_chunk_reset(chunk_);
    FillChunk(chunk_, batch, columns, start, std::min(cap, end - start));
    SC_RETURN_IF_ERROR(Check(duckdb_append_data_chunk(app_, chunk_), "appending to"));
  }
  return Status::OK();
}

Status Appender::Flush() {
  return Check(duckdb_appender_flush(app_), "flushing the appender of");
}

Status Appender::Close() {
  return Check(duckdb_appender_close(app_), "closing the appender of");
}

// ------------------------------------------------------------------------------------ SQL helpers

std::string QuoteLiteral(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  out += '\'';
  return out;
}

std::string QuoteIdentifier(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

std::string_view SqlTypeName(LogicalType t) {
  switch (t) {
    case LogicalType::kString:
      return "VARCHAR";
    case LogicalType::kInt32:
      return "INTEGER";
    case LogicalType::kInt64:
      return "BIGINT";
    case LogicalType::kDouble:
      return "DOUBLE";
    case LogicalType::kTimestamp:
      return "TIMESTAMPTZ";
    case LogicalType::kBool:
      return "BOOLEAN";
    case LogicalType::kDate:
      return "DATE";
  }
  return "VARCHAR";
}

}  // namespace smartcity::engine

#include "lake/avro_file.h"

#include <avro.h>
#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <random>

namespace smartcity::lake {

namespace {

constexpr char kMagic[4] = {'O', 'b', 'j', '\x01'};
constexpr size_t kSyncBytes = 16;
constexpr std::string_view kHeaderSchema = R"({"type":"record","name":"org.apache.avro.file.Header",
  "fields":[{"name":"magic","type":{"type":"fixed","name":"Magic","size":4}},
            {"name":"meta","type":{"type":"map","values":"bytes"}},
            {"name":"sync","type":{"type":"fixed","name":"Sync","size":16}}]})";

std::string AvroError(std::string_view what) {
  return fmt::format("{}: {}", what, avro_strerror());
}

// Owns a parsed schema, its generic class and one value of it.
class Datum {
 public:
  static Result<std::unique_ptr<Datum>> Make(std::string_view schema_json) {
    std::unique_ptr<Datum> d(new Datum());
    if (avro_schema_from_json_length(schema_json.data(), schema_json.size(), &d->schema_) != 0) {
      return Status::InvalidArgument(AvroError("Avro schema does not parse"));
    }
    d->iface_ = avro_generic_class_from_schema(d->schema_);
    if (d->iface_ == nullptr) return Status::InvalidArgument(AvroError("Avro schema"));
    if (avro_generic_value_new(d->iface_, &d->value_) != 0) {
      return Status::Internal(AvroError("Avro value"));
    }
    d->has_value_ = true;
    return d;
  }
  ~Datum() {
    if (has_value_) avro_value_decref(&value_);
    if (iface_ != nullptr) avro_value_iface_decref(iface_);
    if (schema_ != nullptr) avro_schema_decref(schema_);
  }
  Datum(const Datum&) = delete;
  Datum& operator=(const Datum&) = delete;
  avro_value_t* value() { return &value_; }

 private:
  Datum() = default;
  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* iface_ = nullptr;
  avro_value_t value_{};
  bool has_value_ = false;
};

Status Bad(std::string_view what) {
  return Status::InvalidArgument(AvroError(what));
}

// Sets `v` (reset) from `j`.
Status SetValue(avro_value_t* v, const nlohmann::json& j) {
  switch (avro_value_get_type(v)) {
    case AVRO_NULL:
      return avro_value_set_null(v) == 0 ? Status::OK() : Bad("null");
    case AVRO_BOOLEAN:
      if (!j.is_boolean()) return Status::InvalidArgument("Avro boolean expected: " + j.dump());
      return avro_value_set_boolean(v, j.get<bool>() ? 1 : 0) == 0 ? Status::OK() : Bad("boolean");
    case AVRO_INT32:
      if (!j.is_number_integer()) return Status::InvalidArgument("Avro int expected: " + j.dump());
      return avro_value_set_int(v, j.get<int32_t>()) == 0 ? Status::OK() : Bad("int");
    case AVRO_INT64:
      if (!j.is_number_integer()) return Status::InvalidArgument("Avro long expected: " + j.dump());
      return avro_value_set_long(v, j.get<int64_t>()) == 0 ? Status::OK() : Bad("long");
    case AVRO_DOUBLE:
      if (!j.is_number()) return Status::InvalidArgument("Avro double expected: " + j.dump());
      return avro_value_set_double(v, j.get<double>()) == 0 ? Status::OK() : Bad("double");
    case AVRO_STRING: {
      if (!j.is_string()) return Status::InvalidArgument("Avro string expected: " + j.dump());
      const auto& s = j.get_ref<const std::string&>();
      // The length counts the terminating NUL.
      return avro_value_set_string_len(v, s.c_str(), s.size() + 1) == 0 ? Status::OK()
                                                                        : Bad("string");
    }
    case AVRO_BYTES: {
      if (!j.is_string()) return Status::InvalidArgument("Avro bytes expected: " + j.dump());
      const auto& s = j.get_ref<const std::string&>();
      return avro_value_set_bytes(v, const_cast<char*>(s.data()), s.size()) == 0 ? Status::OK()
                                                                                 : Bad("bytes");
    }
    case AVRO_FIXED: {
      const auto& s = j.get_ref<const std::string&>();
      return avro_value_set_fixed(v, const_cast<char*>(s.data()), s.size()) == 0 ? Status::OK()
                                                                                 : Bad("fixed");
    }
    case AVRO_RECORD: {
      if (!j.is_object()) return Status::InvalidArgument("Avro record expected: " + j.dump());
      size_t n = 0;
      avro_value_get_size(v, &n);
      for (size_t i = 0; i < n; ++i) {
        avro_value_t child;
        const char* name = nullptr;
        if (avro_value_get_by_index(v, i, &child, &name) != 0) return Bad("record field");
        auto it = j.find(name);
        Status s = SetValue(&child, it == j.end() ? nlohmann::json() : *it);
        if (!s.ok()) return s.WithContext(fmt::format("field {}", name));
      }
      return Status::OK();
    }
    case AVRO_UNION: {
      avro_schema_t u = avro_value_get_schema(v);
      const size_t branches = avro_schema_union_size(u);
      for (size_t i = 0; i < branches; ++i) {
        const bool is_null =
            avro_typeof(avro_schema_union_branch(u, static_cast<int>(i))) == AVRO_NULL;
        if (is_null != j.is_null()) continue;
        avro_value_t branch;
        if (avro_value_set_branch(v, static_cast<int>(i), &branch) != 0) return Bad("union");
        return SetValue(&branch, j);
      }
      return Status::InvalidArgument("no Avro union branch for " + j.dump());
    }
    case AVRO_ARRAY: {
      if (!j.is_array()) return Status::InvalidArgument("Avro array expected: " + j.dump());
      for (const auto& e : j) {
        avro_value_t child;
        if (avro_value_append(v, &child, nullptr) != 0) return Bad("array");
        SC_RETURN_IF_ERROR(SetValue(&child, e));
      }
      return Status::OK();
    }
    case AVRO_MAP: {
      if (!j.is_object()) return Status::InvalidArgument("Avro map expected: " + j.dump());
      for (const auto& [k, e] : j.items()) {
        avro_value_t child;
        if (avro_value_add(v, k.c_str(), &child, nullptr, nullptr) != 0) return Bad("map");
        SC_RETURN_IF_ERROR(SetValue(&child, e));
      }
      return Status::OK();
    }
    default:
      return Status::InvalidArgument("Avro type not supported here");
  }
}

Result<nlohmann::json> GetValue(avro_value_t* v) {
  switch (avro_value_get_type(v)) {
    case AVRO_NULL:
      return nlohmann::json();
    case AVRO_BOOLEAN: {
      int b = 0;
      avro_value_get_boolean(v, &b);
      return nlohmann::json(b != 0);
    }
    case AVRO_INT32: {
      int32_t x = 0;
      avro_value_get_int(v, &x);
      return nlohmann::json(x);
    }
    case AVRO_INT64: {
      int64_t x = 0;
      avro_value_get_long(v, &x);
      return nlohmann::json(x);
    }
    case AVRO_DOUBLE: {
      double x = 0;
      avro_value_get_double(v, &x);
      return nlohmann::json(x);
    }
    case AVRO_STRING: {
      const char* s = nullptr;
      size_t n = 0;
      avro_value_get_string(v, &s, &n);
      return nlohmann::json(std::string(s, n > 0 ? n - 1 : 0));
    }
    case AVRO_BYTES:
    case AVRO_FIXED: {
      const void* p = nullptr;
      size_t n = 0;
      if (avro_value_get_type(v) == AVRO_BYTES) {
        avro_value_get_bytes(v, &p, &n);
      } else {
        avro_value_get_fixed(v, &p, &n);
      }
      return nlohmann::json(std::string(static_cast<const char*>(p), n));
    }
    case AVRO_RECORD:
    case AVRO_MAP: {
      const bool map = avro_value_get_type(v) == AVRO_MAP;
      nlohmann::json o = nlohmann::json::object();
      size_t n = 0;
      avro_value_get_size(v, &n);
      for (size_t i = 0; i < n; ++i) {
        avro_value_t child;
        const char* name = nullptr;
        avro_value_get_by_index(v, i, &child, &name);
        SC_ASSIGN_OR_RETURN(o[name], GetValue(&child));
      }
      (void)map;
      return o;
    }
    case AVRO_UNION: {
      avro_value_t branch;
      if (avro_value_get_current_branch(v, &branch) != 0) return Bad("union");
      return GetValue(&branch);
    }
    case AVRO_ARRAY: {
      nlohmann::json a = nlohmann::json::array();
      size_t n = 0;
      avro_value_get_size(v, &n);
      for (size_t i = 0; i < n; ++i) {
        avro_value_t child;
        avro_value_get_by_index(v, i, &child, nullptr);
        SC_ASSIGN_OR_RETURN(nlohmann::json e, GetValue(&child));
        a.push_back(std::move(e));
      }
      return a;
    }
    default:
      return Status::InvalidArgument("Avro type not supported here");
  }
}

// Appends the binary encoding of `v` to `out`.
Status Write(avro_value_t* v, std::string* out) {
  size_t size = 0;
  if (avro_value_sizeof(v, &size) != 0) return Bad("Avro size");
  const size_t at = out->size();
  out->resize(at + size);
  avro_writer_t w = avro_writer_memory(out->data() + at, static_cast<int64_t>(size));
  const int rc = avro_value_write(w, v);
  avro_writer_free(w);
  return rc == 0 ? Status::OK() : Bad("Avro write");
}

Status WriteLong(Datum* long_datum, int64_t x, std::string* out) {
  avro_value_set_long(long_datum->value(), x);
  return Write(long_datum->value(), out);
}

}  // namespace

Result<std::string> EncodeAvroFile(const AvroFile& file) {
  SC_ASSIGN_OR_RETURN(auto header, Datum::Make(kHeaderSchema));
  SC_ASSIGN_OR_RETURN(auto record, Datum::Make(file.schema_json));
  SC_ASSIGN_OR_RETURN(auto long_datum, Datum::Make(R"("long")"));

  std::string sync(kSyncBytes, '\0');
  std::random_device rd;
  for (char& c : sync) c = static_cast<char>(rd() & 0xff);
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : file.meta) meta[k] = v;
  meta["avro.schema"] = file.schema_json;
  meta["avro.codec"] = "null";
  nlohmann::json h = {
      {"magic", std::string(kMagic, sizeof kMagic)}, {"meta", meta}, {"sync", sync}};

  std::string out;
  SC_RETURN_IF_ERROR(SetValue(header->value(), h).WithContext("Avro file header"));
  SC_RETURN_IF_ERROR(Write(header->value(), &out));
  std::string block;
  for (const nlohmann::json& r : file.records) {
    avro_value_reset(record->value());
    SC_RETURN_IF_ERROR(SetValue(record->value(), r).WithContext("Avro record"));
    SC_RETURN_IF_ERROR(Write(record->value(), &block));
  }
  if (!file.records.empty()) {
    SC_RETURN_IF_ERROR(
        WriteLong(long_datum.get(), static_cast<int64_t>(file.records.size()), &out));
    SC_RETURN_IF_ERROR(WriteLong(long_datum.get(), static_cast<int64_t>(block.size()), &out));
    out += block;
    out += sync;
  }
  return out;
}

Result<AvroFile> DecodeAvroFile(std::string_view bytes) {
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corruption("not an Avro object container file (no magic)");
  }
  SC_ASSIGN_OR_RETURN(auto header, Datum::Make(kHeaderSchema));
  SC_ASSIGN_OR_RETURN(auto long_datum, Datum::Make(R"("long")"));
  std::unique_ptr<avro_reader_t_, void (*)(avro_reader_t)> r(
      avro_reader_memory(bytes.data(), static_cast<int64_t>(bytes.size())), avro_reader_free);
  if (avro_value_read(r.get(), header->value()) != 0) {
    return Status::Corruption(AvroError("Avro file header"));
  }
  SC_ASSIGN_OR_RETURN(nlohmann::json h, GetValue(header->value()));
  AvroFile file;
  for (const auto& [k, v] : h["meta"].items()) {
    if (k == "avro.schema") {
      file.schema_json = v.get<std::string>();
    } else if (k == "avro.codec") {
      if (v.get<std::string>() != "null") {
        return Status::Corruption("Avro codec " + v.get<std::string>() + " is not supported");
      }
    } else {
      file.meta[k] = v.get<std::string>();
    }
  }
  auto record = Datum::Make(file.schema_json);
  if (!record.ok()) return Status::Corruption(record.status().message());
  while (!avro_reader_is_eof(r.get())) {
    int64_t count = 0;
    int64_t size = 0;
    if (avro_value_read(r.get(), long_datum->value()) != 0) break;  // end of the buffer
    avro_value_get_long(long_datum->value(), &count);
    if (avro_value_read(r.get(), long_datum->value()) != 0) {
      return Status::Corruption("truncated Avro block");
    }
    avro_value_get_long(long_datum->value(), &size);
    for (int64_t i = 0; i < count; ++i) {
      avro_value_reset((*record)->value());
      if (avro_value_read(r.get(), (*record)->value()) != 0) {
        return Status::Corruption(AvroError("Avro record"));
      }
      SC_ASSIGN_OR_RETURN(nlohmann::json rec, GetValue((*record)->value()));
      file.records.push_back(std::move(rec));
    }
    if (avro_skip(r.get(), kSyncBytes) != 0) return Status::Corruption("Avro block sync marker");
  }
  return file;
}

}  // namespace smartcity::lake

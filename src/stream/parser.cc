#include "stream/parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <span>

#include "stream/tables.h"

namespace smartcity::stream {

namespace {

namespace od = simdjson::ondemand;

// A field's kind is the model's Wire (model/schema.h): how it is read and what it must hold.
using Kind = model::Wire;

constexpr size_t kMaxIdBytes = 256;
constexpr int kMaxFields = 12;

// Event time accepted: 1970-01-01 .. 2200-01-01 (anything else is a broken clock or a unit mix-up).
constexpr int64_t kMinEventMicros = 0;
constexpr int64_t kMaxEventMicros = 7'258'118'400'000'000LL;

// The declared fields of each topic, derived from the model at compile time (in the raw table's
// order, which is the order the missing-field check reports in).
using FieldDesc = model::JsonField;
template <Topic T>
inline constexpr auto kFieldsOf = model::JsonFieldsOf<T>();
static_assert(kFieldsOf<Topic::kVehicle>.size() <= kMaxFields &&
              kFieldsOf<Topic::kGps>.size() <= kMaxFields &&
              kFieldsOf<Topic::kTraffic>.size() <= kMaxFields &&
              kFieldsOf<Topic::kWeather>.size() <= kMaxFields &&
              kFieldsOf<Topic::kEmergency>.size() <= kMaxFields);

struct TopicDesc {
  std::span<const FieldDesc> fields;
  int partition_column;
  int offset_column;
  int date_column;
  int timestamp_field;  // index into fields
};

template <Topic T>
constexpr TopicDesc DescribeTopic() {
  constexpr model::Table table = model::TableOf(T);
  constexpr int ts_column = model::ColumnWithRole(table, model::Role::kEventTime);
  int ts_field = -1;
  for (size_t i = 0; i < kFieldsOf<T>.size(); ++i) {
    if (kFieldsOf<T>[i].column == ts_column) ts_field = static_cast<int>(i);
  }
  return {kFieldsOf<T>, model::ColumnWithRole(table, model::Role::kPartition),
          model::ColumnWithRole(table, model::Role::kOffset),
          model::ColumnWithRole(table, model::Role::kDate), ts_field};
}

TopicDesc Describe(Topic t) {
  switch (t) {
    case Topic::kVehicle:
      return DescribeTopic<Topic::kVehicle>();
    case Topic::kGps:
      return DescribeTopic<Topic::kGps>();
    case Topic::kTraffic:
      return DescribeTopic<Topic::kTraffic>();
    case Topic::kWeather:
      return DescribeTopic<Topic::kWeather>();
    case Topic::kEmergency:
      return DescribeTopic<Topic::kEmergency>();
  }
  return {};
}

// One parsed field value (which member is used depends on the field's kind).
struct Slot {
  std::string_view s;
  double d = 0;
  double d2 = 0;
  int64_t i = 0;
};

std::string_view DomTypeName(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "array";
    case T::OBJECT:
      return "object";
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
      return "number";
    case T::STRING:
      return "string";
    case T::BOOL:
      return "boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

void AppendNumber(std::string* out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// Appends at most `cap` bytes of `s`, never splitting a UTF-8 sequence, with "..." when cut.
void AppendClipped(std::string* out, std::string_view s, size_t cap = 64) {
  if (s.size() <= cap) {
    out->append(s);
    return;
  }
  size_t n = cap;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  out->append(s.substr(0, n));
  out->append("...");
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool ParseDoubleText(std::string_view s, double* out) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*out);
}

// "(lat, lon)" or "lat,lon".
bool ParseLocationText(std::string_view s, double* lat, double* lon) {
  s = Trim(s);
  if (!s.empty() && s.front() == '(') {
    if (s.back() != ')') return false;
    s = s.substr(1, s.size() - 2);
  }
  const size_t comma = s.find(',');
  if (comma == std::string_view::npos) return false;
  return ParseDoubleText(s.substr(0, comma), lat) && ParseDoubleText(s.substr(comma + 1), lon);
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void Base64(std::string_view in, std::string* out) {
  out->clear();
  out->reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out->push_back(kBase64[(v >> 18) & 63]);
    out->push_back(kBase64[(v >> 12) & 63]);
    out->push_back(kBase64[(v >> 6) & 63]);
    out->push_back(kBase64[v & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (i + 1 < in.size()) v |= uint32_t{p[i + 1]} << 8;
    out->push_back(kBase64[(v >> 18) & 63]);
    out->push_back(kBase64[(v >> 12) & 63]);
    out->push_back(i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

// Drops values appended to some columns of `batch` beyond its shortest column (a half-written row).
void TrimToRows(RecordBatch* batch) {
  size_t rows = SIZE_MAX;
  for (size_t c = 0; c < batch->num_columns(); ++c) rows = std::min(rows, batch->column(c).size());
  for (size_t c = 0; c < batch->num_columns(); ++c) {
    Column& col = batch->column(c);
    if (col.size() == rows) continue;
    Column copy(col.type());
    for (size_t r = 0; r < rows; ++r) copy.AppendFrom(col, r);
    col = std::move(copy);
  }
}

}  // namespace

struct EventParser::Impl {
  // The good path uses the DOM parser: it picks the best SIMD kernel at run time, whereas On-Demand
  // is compiled for the build's baseline target only. On-Demand is used to locate errors.
  simdjson::dom::parser dom;
  od::parser ondemand;
  std::string padded;  // payload copy with SIMDJSON_PADDING bytes after it
  std::array<TopicDesc, kTopicCount> topics;
  std::array<DateColumnWriter, kTopicCount> dates;
  DateColumnWriter dead_letter_dates;
  Slot slots[kMaxFields];

  Impl() {
    for (Topic t : kAllTopics) topics[static_cast<size_t>(t)] = Describe(t);
  }

  // Byte offset at which the payload in `padded` (of `size` bytes) stops being valid JSON, or -1.
  int64_t ErrorOffset(size_t size) {
    simdjson::padded_string_view input(padded.data(), size, padded.size());
    od::document doc;
    if (ondemand.iterate(input).get(doc) != simdjson::SUCCESS) return -1;
    od::value root;
    simdjson::error_code e = doc.get_value().get(root);
    if (e == simdjson::SUCCESS) e = Walk(root, 0);
    if (e == simdjson::DEPTH_ERROR) return -1;  // our walk's own limit: no reliable position
    if (e == simdjson::SUCCESS)
      e = simdjson::TRAILING_CONTENT;  // DOM refused it, the walk did not: it is what follows
    const char* where = nullptr;
    if (e == simdjson::SUCCESS || doc.current_location().get(where) != simdjson::SUCCESS) return -1;
    if (where < padded.data() || where > padded.data() + size) return -1;
    return where - padded.data();
  }

  // Visits every value, so that On-Demand stops exactly where the document breaks. Depth is bounded
  // here because On-Demand only asserts its own limit (in debug builds) instead of checking it.
  static constexpr int kMaxWalkDepth = 256;
  static simdjson::error_code Walk(od::value v, int depth) {
    if (depth >= kMaxWalkDepth) return simdjson::DEPTH_ERROR;
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    switch (t) {
      case od::json_type::object: {
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        for (auto fr : o) {
          od::field f;
          if (auto e = std::move(fr).get(f)) return e;
          if (auto e = f.unescaped_key().error()) return e;
          if (auto e = Walk(f.value(), depth + 1)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::array: {
        od::array a;
        if (auto e = v.get_array().get(a)) return e;
        for (auto er : a) {
          od::value x;
          // NOLINTNEXTLINE(performance-move-const-arg): simdjson_result::get() is &&-qualified
          if (auto e = std::move(er).get(x)) return e;
          if (auto e = Walk(x, depth + 1)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::number:
        return v.get_double().error();
      case od::json_type::string:
        return v.get_string().error();
      case od::json_type::boolean:
        return v.get_bool().error();
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) return e;
        return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
      }
    }
    return simdjson::SUCCESS;
  }
};

EventParser::EventParser(ParserOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  reason_.reserve(256);
}

EventParser::~EventParser() = default;

bool EventParser::Parse(Topic topic, std::string_view payload, SourcePosition position,
                        EventTime received_at, RecordBatch* raw, RecordBatch* dead_letters) {
  reason_.clear();
  const size_t t = static_cast<size_t>(topic);
  if (t >= kTopicCount) {
    // Not one of the five streams (a caller's bug or a corrupt source): a dead letter like any
    // other record that cannot be read, never a silent drop.
    reason_ = "unknown topic " + std::to_string(t);
    AppendDeadLetter("#" + std::to_string(t), payload, position, received_at, dead_letters);
    counters_.unknown_topic++;
    return false;
  }
  if (payload.size() > options_.max_payload_bytes) {
    reason_.append("payload of ");
    reason_.append(std::to_string(payload.size()));
    reason_.append(" bytes exceeds the ");
    reason_.append(std::to_string(options_.max_payload_bytes));
    reason_.append("-byte limit");
  } else {
    bool valid = false;
    try {
      valid = ParseValid(topic, payload, position, raw);
    } catch (const std::exception& e) {
      // simdjson is built with exceptions; every call here checks error codes, so this is a safety
      // net: a record must never stop the pipeline. Undo a half-appended row.
      reason_ = std::string("internal parser error: ") + e.what();
      TrimToRows(raw);
    }
    if (valid) {
      counters_.valid[t]++;
      return true;
    }
  }
  AppendDeadLetter(options_.topic_names[topic], payload, position, received_at, dead_letters);
  counters_.dead_letters[t]++;
  return false;
}

bool EventParser::ParseValid(Topic topic, std::string_view payload, SourcePosition position,
                             RecordBatch* raw) {
  Impl& im = *impl_;
  const TopicDesc& desc = im.topics[static_cast<size_t>(topic)];
  const size_t need = payload.size() + simdjson::SIMDJSON_PADDING;
  if (im.padded.size() < need) im.padded.resize(need);
  if (!payload.empty()) std::memcpy(im.padded.data(), payload.data(), payload.size());
  std::memset(im.padded.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);

  simdjson::dom::element doc;
  if (auto e = im.dom.parse(im.padded.data(), payload.size(), false).get(doc)) {
    if (payload.empty() || e == simdjson::EMPTY) {
      reason_ = "invalid JSON: the payload is empty";
      return false;
    }
    reason_.append("invalid JSON");
    const int64_t at = e == simdjson::DEPTH_ERROR ? -1 : im.ErrorOffset(payload.size());
    if (at >= 0) {
      reason_.append(" at byte ");
      reason_.append(std::to_string(at));
    }
    reason_.append(": ");
    reason_.append(simdjson::error_message(e));
    return false;
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    reason_.append("payload is a JSON ");
    reason_.append(DomTypeName(doc.type()));
    reason_.append(", expected an object");
    return false;
  }

  const std::span<const FieldDesc> fields = desc.fields;
  uint32_t seen = 0;
  Slot* slots = im.slots;

  auto field_prefix = [&](const FieldDesc& f) {
    reason_.append("field ");
    reason_.append(f.name);
    reason_.append(": ");
  };
  auto type_error = [&](const FieldDesc& f, std::string_view expected,
                        simdjson::dom::element_type got) {
    field_prefix(f);
    reason_.append("expected ");
    reason_.append(expected);
    reason_.append(", got ");
    reason_.append(DomTypeName(got));
    return false;
  };
  auto range_error = [&](const FieldDesc& f, double value) {
    field_prefix(f);
    AppendNumber(&reason_, value);
    reason_.append(" is outside ");
    AppendNumber(&reason_, f.min);
    reason_.append("..");
    AppendNumber(&reason_, f.max);
    return false;
  };

  for (simdjson::dom::key_value_pair kv : obj) {
    const std::string_view key = kv.key;
    int idx = -1;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name == key) {
        idx = static_cast<int>(i);
        break;
      }
    }
    if (idx < 0) continue;  // unknown fields are ignored
    const FieldDesc& f = fields[static_cast<size_t>(idx)];
    if (seen & (1u << idx)) {
      reason_.append("duplicate field ");
      reason_.append(f.name);
      return false;
    }
    seen |= 1u << idx;
    Slot& slot = slots[idx];
    const simdjson::dom::element value = kv.value;
    const simdjson::dom::element_type type = value.type();
    switch (f.wire) {
      case Kind::kNone:
      case Kind::kLocationLongitude:
        break;  // not JSON fields: never in kFieldsOf
      case Kind::kString:
      case Kind::kId:
      case Kind::kEnum:
      case Kind::kTimestamp: {
        if (value.get_string().get(slot.s) != simdjson::SUCCESS)
          return type_error(f, "string", type);
        if (f.wire == Kind::kId && (slot.s.empty() || slot.s.size() > kMaxIdBytes)) {
          field_prefix(f);
          reason_.append(slot.s.empty() ? "must not be empty" : "longer than 256 bytes");
          return false;
        }
        if (f.wire == Kind::kEnum) {
          bool ok = false;
          for (std::string_view v : f.values) ok = ok || v == slot.s;
          if (!ok) {
            field_prefix(f);
            reason_.append("'");
            AppendClipped(&reason_, slot.s);
            reason_.append("' is not one of ");
            for (size_t i = 0; i < f.values.size(); ++i) {
              if (i) reason_.append(", ");
              reason_.append(f.values[i]);
            }
            return false;
          }
        }
        if (f.wire == Kind::kTimestamp) {
          Result<EventTime> ts = ParseTimestamp(slot.s);
          if (!ts.ok()) {
            field_prefix(f);
            reason_.append("'");
            AppendClipped(&reason_, slot.s);
            reason_.append("' is not an ISO-8601 timestamp");
            return false;
          }
          slot.i = ts->time_since_epoch().count();
          if (slot.i < kMinEventMicros || slot.i >= kMaxEventMicros) {
            field_prefix(f);
            reason_.append("'");
            AppendClipped(&reason_, slot.s);
            reason_.append("' is outside 1970..2199");
            return false;
          }
        }
        break;
      }
      case Kind::kDouble: {
        if (!value.is_number()) return type_error(f, "number", type);
        if (value.get_double().get(slot.d) != simdjson::SUCCESS || !std::isfinite(slot.d)) {
          return type_error(f, "number",
                            type);  // unreachable for a number element; kept for safety
        }
        if (!(slot.d >= f.min && slot.d <= f.max)) return range_error(f, slot.d);
        break;
      }
      case Kind::kInt: {
        if (type == simdjson::dom::element_type::INT64) {
          slot.i = value.get_int64().value_unsafe();
        } else if (type == simdjson::dom::element_type::UINT64) {
          return range_error(f, static_cast<double>(value.get_uint64().value_unsafe()));
        } else if (type == simdjson::dom::element_type::DOUBLE && f.rounds_fraction) {
          const double d = value.get_double().value_unsafe();
          if (!(d >= f.min && d <= f.max)) return range_error(f, d);
          slot.i = std::llround(d);  // halves away from zero (model: ColumnDef::rounds_fraction)
          break;
        } else if (type == simdjson::dom::element_type::DOUBLE) {
          field_prefix(f);
          reason_.append("expected integer, got number ");
          AppendNumber(&reason_, value.get_double().value_unsafe());
          return false;
        } else {
          return type_error(f, "integer", type);
        }
        if (static_cast<double>(slot.i) < f.min || static_cast<double>(slot.i) > f.max) {
          return range_error(f, static_cast<double>(slot.i));
        }
        break;
      }
      case Kind::kLocation: {
        double lat = 0, lon = 0;
        if (type == simdjson::dom::element_type::STRING) {
          std::string_view text = value.get_string().value_unsafe();
          if (!ParseLocationText(text, &lat, &lon)) {
            reason_.append("field location: '");
            AppendClipped(&reason_, text);
            reason_.append("' is not \"(lat, lon)\" or \"lat,lon\"");
            return false;
          }
        } else if (type == simdjson::dom::element_type::ARRAY) {
          simdjson::dom::array arr;
          if (value.get_array().get(arr) != simdjson::SUCCESS) return type_error(f, "array", type);
          if (arr.size() != 2 || !arr.at(0).is_number() || !arr.at(1).is_number()) {
            reason_.append("field location: an array must be [lat, lon] (two numbers)");
            return false;
          }
          lat = arr.at(0).get_double().value_unsafe();
          lon = arr.at(1).get_double().value_unsafe();
        } else if (type == simdjson::dom::element_type::OBJECT) {
          bool have_lat = false, have_lon = false;
          simdjson::dom::object members;
          if (value.get_object().get(members) != simdjson::SUCCESS)
            return type_error(f, "object", type);
          for (simdjson::dom::key_value_pair member : members) {
            const std::string_view k = member.key;
            const bool is_lat = k == "lat" || k == "latitude";
            const bool is_lon = k == "lon" || k == "lng" || k == "longitude";
            if (!is_lat && !is_lon) continue;
            if (!member.value.is_number()) {
              reason_.append("field location: ");
              reason_.append(k);
              reason_.append(" must be a number");
              return false;
            }
            (is_lat ? lat : lon) = member.value.get_double().value_unsafe();
            (is_lat ? have_lat : have_lon) = true;
          }
          if (!have_lat || !have_lon) {
            reason_.append("field location: an object needs \"lat\" and \"lon\"");
            return false;
          }
        } else {
          return type_error(f, "string, array or object", type);
        }
        if (!(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180)) {
          reason_.append("field location: (");
          AppendNumber(&reason_, lat);
          reason_.append(", ");
          AppendNumber(&reason_, lon);
          reason_.append(") is not a latitude in -90..90 and a longitude in -180..180");
          return false;
        }
        slot.d = lat;
        slot.d2 = lon;
        break;
      }
    }
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!(seen & (1u << i))) {
      reason_.append("missing field ");
      reason_.append(fields[i].name);
      return false;
    }
  }

  // Valid: one row, in schema order (the field table is in schema order).
  for (size_t i = 0; i < fields.size(); ++i) {
    const FieldDesc& f = fields[i];
    const Slot& slot = slots[i];
    switch (f.wire) {
      case Kind::kNone:
      case Kind::kLocationLongitude:
        break;
      case Kind::kString:
      case Kind::kId:
      case Kind::kEnum:
        raw->column(static_cast<size_t>(f.column)).AppendString(slot.s);
        break;
      case Kind::kTimestamp:
        raw->column(static_cast<size_t>(f.column)).AppendInt64(slot.i);
        break;
      case Kind::kDouble:
        raw->column(static_cast<size_t>(f.column)).AppendDouble(slot.d);
        break;
      case Kind::kInt:
        raw->column(static_cast<size_t>(f.column)).AppendInt32(static_cast<int32_t>(slot.i));
        break;
      case Kind::kLocation:
        raw->column(static_cast<size_t>(f.column)).AppendDouble(slot.d);
        raw->column(static_cast<size_t>(f.column) + 1).AppendDouble(slot.d2);
        break;
    }
  }
  raw->column(static_cast<size_t>(desc.partition_column)).AppendInt32(position.partition.value());
  raw->column(static_cast<size_t>(desc.offset_column)).AppendInt64(position.offset);
  im.dates[static_cast<size_t>(topic)].Append(EventTime(Micros(slots[desc.timestamp_field].i)),
                                              &raw->column(static_cast<size_t>(desc.date_column)));
  return true;
}

void EventParser::AppendRejected(Topic topic, std::string_view payload, SourcePosition position,
                                 EventTime received_at, std::string_view reason,
                                 RecordBatch* dead_letters) {
  reason_.assign(reason);
  AppendDeadLetter(options_.topic_names[topic], payload, position, received_at, dead_letters);
  reason_.clear();
}

void EventParser::AppendDeadLetter(std::string_view topic_name, std::string_view payload,
                                   SourcePosition position, EventTime received_at,
                                   RecordBatch* dead_letters) {
  using namespace dead_letter_col;
  const size_t cap = options_.dead_letter_payload_cap;
  const bool utf8 = simdjson::validate_utf8(payload.data(), payload.size());
  bool truncated = false;
  std::string_view stored;
  if (utf8) {
    stored = payload;
    if (stored.size() > cap) {
      size_t n = cap;
      while (n > 0 && (static_cast<unsigned char>(payload[n]) & 0xC0) == 0x80) --n;
      stored = payload.substr(0, n);
      truncated = true;
    }
  } else {
    std::string_view source = payload;
    const size_t max_source = cap / 4 * 3;
    if (source.size() > max_source) {
      source = source.substr(0, max_source);
      truncated = true;
    }
    Base64(source, &scratch_);
    stored = scratch_;
  }
  dead_letters->column(kTopic).AppendString(topic_name);
  dead_letters->column(kPartition).AppendInt32(position.partition.value());
  dead_letters->column(kOffset).AppendInt64(position.offset);
  dead_letters->column(kPayload).AppendString(stored);
  dead_letters->column(kPayloadEncoding).AppendString(utf8 ? "utf-8" : "base64");
  dead_letters->column(kPayloadBytes).AppendInt64(static_cast<int64_t>(payload.size()));
  dead_letters->column(kPayloadTruncated).AppendBool(truncated);
  dead_letters->column(kReason).AppendString(reason_);
  dead_letters->column(kReceivedAt).AppendTimestamp(received_at);
  impl_->dead_letter_dates.Append(received_at, &dead_letters->column(kDate));
}

}  // namespace smartcity::stream

// The event model: one declarative, constexpr table per topic and per output table. It is the one
// place where a JSON field name, a column name, a column's logical type, nullability, range or enum
// values, the key, the event time and the join role are written; everything else derives from it:
//
//   the simulator's JSON keys       simulation/simulator.cc  QuotedJsonKeys<topic> (compile time)
//   the parser's field descriptors  stream/parser.cc         JsonFieldsOf<topic>() (compile time)
//   the output tables' schemas      stream/tables.h          SchemaOf(table), column-index enums
//   the warehouse's row identity    warehouse/loader.cc      TableDef::identity
//   the live view's SQL             web/lake_state.cc        ColumnName(table, column)
//
// A raw table (one per topic) holds the topic's JSON fields in the order the simulator writes them,
// with `location` replaced by the `latitude`, `longitude` columns, then provenance `_partition`,
// `_offset` (Kafka partition/offset, or partition 0 and the in-process sequence number) and the
// Hive partition column `date` (YYYY-MM-DD of the event time, UTC). Each table's columns are an
// array indexed by its column enum (`vehicle_col::kSpeed`, ...), so an enum and its table cannot
// disagree about order: a column left out is a compile error (static_assert below).
//
// model/model_source_test.cc fails when a quoted JSON field name of this file appears in a
// non-test source file outside src/model/.
//
// Thread-safety: constants, apart from SchemaOf()'s objects, which are built once (thread-safe
// static initialisation) and immutable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/logical_type.h"
#include "common/record_batch.h"
#include "model/topic.h"

namespace smartcity::model {

// ------------------------------------------------------------------------- enumerated values

// weatherCondition values, in this order (an enum value indexes its name).
enum class WeatherCondition : uint8_t { kSunny, kCloudy, kRain, kSnow, kFog };
inline constexpr std::string_view kWeatherConditionNames[] = {"Sunny", "Cloudy", "Rain", "Snow",
                                                              "Fog"};
// emergency `type` values.
enum class EmergencyType : uint8_t { kAccident, kFire, kMedical, kPolice };
inline constexpr std::string_view kEmergencyTypeNames[] = {"Accident", "Fire", "Medical", "Police"};
// The emergency `type` a record carries when there is no incident. Not an EmergencyType: the
// simulator never writes it (SPEC: sparse, no "None" rows), but the seeds' producer emits such
// records on every tick; they are data (stored in emergency_data) and never joined as incidents.
inline constexpr std::string_view kNoIncidentType = "None";
// The `type` values a record may carry: the incident types, then kNoIncidentType.
inline constexpr std::string_view kEmergencyTypeValues[] = {"Accident", "Fire", "Medical", "Police",
                                                            kNoIncidentType};
// emergency `status` values.
enum class EmergencyStatus : uint8_t { kActive, kResolved };
inline constexpr std::string_view kEmergencyStatusNames[] = {"Active", "Resolved"};

static_assert(std::size(kWeatherConditionNames) == static_cast<size_t>(WeatherCondition::kFog) + 1);
static_assert(std::size(kEmergencyTypeNames) == static_cast<size_t>(EmergencyType::kPolice) + 1);
static_assert(std::size(kEmergencyTypeValues) == std::size(kEmergencyTypeNames) + 1);
static_assert(std::size(kEmergencyStatusNames) ==
              static_cast<size_t>(EmergencyStatus::kResolved) + 1);

constexpr std::string_view NameOf(WeatherCondition c) {
  return kWeatherConditionNames[static_cast<size_t>(c)];
}
constexpr std::string_view NameOf(EmergencyType t) {
  return kEmergencyTypeNames[static_cast<size_t>(t)];
}
constexpr std::string_view NameOf(EmergencyStatus s) {
  return kEmergencyStatusNames[static_cast<size_t>(s)];
}

// ----------------------------------------------------------------------------------- columns

// How a column is read from an event's JSON (and so how the simulator writes it).
enum class Wire : uint8_t {
  kNone,       // not in the JSON: provenance, the date partition, derived tables
  kString,     // any string (may be empty)
  kId,         // non-empty string of at most 256 bytes
  kEnum,       // string, one of ColumnDef::values
  kTimestamp,  // ISO-8601 string -> LogicalType::kTimestamp
  kDouble,     // JSON number within [min, max]
  kInt,        // JSON integer within [min, max]
  kLocation,   // the JSON field `location` ("(lat, lon)", "lat,lon", [lat, lon] or
               // {"lat":..,"lon":..}): this column is its latitude, the next one its longitude
  kLocationLongitude,  // the longitude half of the preceding kLocation column (no JSON field)
};

// What a column means to the pipeline.
enum class Role : uint8_t {
  kData,
  kKey,         // deviceId: the Kafka message key, the join key, co-partitioning
  kEventTime,   // the event's time: watermarks, the join window, the date partition
  kPartition,   // provenance: Kafka partition (0 in process)
  kOffset,      // provenance: Kafka offset (the sequence number in process)
  kReceivedAt,  // wall-clock time the record was received (dead letters, late events)
  kDate,        // the Hive partition column: YYYY-MM-DD (UTC) of the event time or receivedAt
};

struct ColumnDef {
  std::string_view name;  // column name; for a Wire other than kNone/kLocation*, the JSON name
  LogicalType type = LogicalType::kString;
  bool nullable = false;
  Wire wire = Wire::kNone;
  Role role = Role::kData;
  double min = 0;  // kDouble / kInt: the accepted range
  double max = 0;
  std::span<const std::string_view> values = {};  // kEnum: the accepted values
  // kInt: a JSON number with a fraction is accepted when the SPEC gives the field no integer type
  // (its value within [min, max]); it is stored rounded to the nearest integer, halves away from
  // zero. Otherwise such a number is refused ("expected integer").
  bool rounds_fraction = false;
};

// The JSON field every event carries: the key, the event time, the event id, and `location`.
inline constexpr std::string_view kIdField = "id";
inline constexpr std::string_view kDeviceIdField = "deviceId";
inline constexpr std::string_view kTimestampField = "timestamp";
inline constexpr std::string_view kLocationField = "location";
// The columns `location` becomes.
inline constexpr std::string_view kLatitudeColumn = "latitude";
inline constexpr std::string_view kLongitudeColumn = "longitude";
// Provenance and partition columns of the raw tables.
inline constexpr std::string_view kPartitionColumn = "_partition";
inline constexpr std::string_view kOffsetColumn = "_offset";
inline constexpr std::string_view kDateColumn = "date";

// The JSON field name a column is read from, or "" for a column that is not in the JSON.
constexpr std::string_view JsonName(const ColumnDef& c) {
  switch (c.wire) {
    case Wire::kNone:
    case Wire::kLocationLongitude:
      return {};
    case Wire::kLocation:
      return kLocationField;
    default:
      return c.name;
  }
}

namespace internal {

constexpr ColumnDef Str(std::string_view name) {
  return {name, LogicalType::kString, false, Wire::kString};
}
constexpr ColumnDef Id(std::string_view name) {
  return {name, LogicalType::kString, false, Wire::kId};
}
constexpr ColumnDef Enum(std::string_view name, std::span<const std::string_view> values) {
  return {name, LogicalType::kString, false, Wire::kEnum, Role::kData, 0, 0, values};
}
constexpr ColumnDef Double(std::string_view name, double min, double max) {
  return {name, LogicalType::kDouble, false, Wire::kDouble, Role::kData, min, max};
}
constexpr ColumnDef Int(std::string_view name, double min, double max) {
  return {name, LogicalType::kInt32, false, Wire::kInt, Role::kData, min, max};
}
// An integer column whose JSON value may be any number (rounded): see ColumnDef::rounds_fraction.
constexpr ColumnDef RoundedInt(std::string_view name, double min, double max) {
  return {name, LogicalType::kInt32, false, Wire::kInt, Role::kData, min, max, {}, true};
}
constexpr ColumnDef Key() {
  return {kDeviceIdField, LogicalType::kString, false, Wire::kId, Role::kKey};
}
constexpr ColumnDef EventTimestamp() {
  return {kTimestampField, LogicalType::kTimestamp, false, Wire::kTimestamp, Role::kEventTime};
}
constexpr ColumnDef Latitude() {
  return {kLatitudeColumn, LogicalType::kDouble, false, Wire::kLocation};
}
constexpr ColumnDef Longitude() {
  return {kLongitudeColumn, LogicalType::kDouble, false, Wire::kLocationLongitude};
}
// A column of a derived table, not read from JSON.
constexpr ColumnDef Derived(std::string_view name, LogicalType type, bool nullable = false,
                            Role role = Role::kData) {
  return {name, type, nullable, Wire::kNone, role};
}
// An input table's column carried into a derived table (same name, type and meaning).
constexpr ColumnDef From(ColumnDef c) {
  c.wire = Wire::kNone;
  return c;
}
// ... under another name, possibly nullable (a left join's right side).
constexpr ColumnDef From(ColumnDef c, std::string_view name, bool nullable) {
  c.wire = Wire::kNone;
  c.name = name;
  c.nullable = nullable;
  return c;
}
// _partition, _offset, date at [first, first + 3).
template <size_t N>
constexpr void AddProvenance(std::array<ColumnDef, N>& c, size_t first) {
  c[first] = Derived(kPartitionColumn, LogicalType::kInt32, false, Role::kPartition);
  c[first + 1] = Derived(kOffsetColumn, LogicalType::kInt64, false, Role::kOffset);
  c[first + 2] = Derived(kDateColumn, LogicalType::kString, false, Role::kDate);
}
// Every slot filled (a column the enum names but the table leaves out has an empty name).
template <size_t N>
constexpr bool Complete(const std::array<ColumnDef, N>& c) {
  for (const ColumnDef& d : c) {
    if (d.name.empty()) return false;
  }
  return true;
}

}  // namespace internal

// -------------------------------------------------------------------------------- raw tables

namespace vehicle_col {
enum : int {
  kId,
  kDeviceId,
  kTimestamp,
  kLatitude,
  kLongitude,
  kSpeed,
  kDirection,
  kMake,
  kModel,
  kYear,
  kFuelType,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
inline constexpr auto kVehicleColumns = [] {
  using namespace internal;
  using namespace vehicle_col;
  std::array<ColumnDef, kCount> c{};
  c[kId] = Id(kIdField);
  c[kDeviceId] = Key();
  c[kTimestamp] = EventTimestamp();
  c[kLatitude] = Latitude();
  c[kLongitude] = Longitude();
  c[kSpeed] = Double("speed", 0, 500);  // km/h
  c[kDirection] = Str("direction");
  c[kMake] = Str("make");
  c[kModel] = Str("model");
  c[kYear] = Int("year", 1886, 2100);
  c[kFuelType] = Str("fuelType");
  AddProvenance(c, kPartition);
  return c;
}();

namespace gps_col {
enum : int {
  kId,
  kDeviceId,
  kTimestamp,
  kSpeed,
  kDirection,
  kVehicleType,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
inline constexpr auto kGpsColumns = [] {
  using namespace internal;
  using namespace gps_col;
  std::array<ColumnDef, kCount> c{};
  c[kId] = Id(kIdField);
  c[kDeviceId] = Key();
  c[kTimestamp] = EventTimestamp();
  c[kSpeed] = kVehicleColumns[vehicle_col::kSpeed];
  c[kDirection] = kVehicleColumns[vehicle_col::kDirection];
  c[kVehicleType] = Str("vehicleType");
  AddProvenance(c, kPartition);
  return c;
}();

namespace traffic_col {
enum : int {
  kId,
  kDeviceId,
  kCameraId,
  kLatitude,
  kLongitude,
  kTimestamp,
  kSnapshot,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
inline constexpr auto kTrafficColumns = [] {
  using namespace internal;
  using namespace traffic_col;
  std::array<ColumnDef, kCount> c{};
  c[kId] = Id(kIdField);
  c[kDeviceId] = Key();
  c[kCameraId] = Id("cameraId");
  c[kLatitude] = Latitude();
  c[kLongitude] = Longitude();
  c[kTimestamp] = EventTimestamp();
  c[kSnapshot] = Str("snapshot");  // base64 of the camera frame
  AddProvenance(c, kPartition);
  return c;
}();

namespace weather_col {
enum : int {
  kId,
  kDeviceId,
  kLatitude,
  kLongitude,
  kTimestamp,
  kTemperature,
  kWeatherCondition,
  kPrecipitation,
  kWindSpeed,
  kHumidity,
  kAirQualityIndex,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
inline constexpr auto kWeatherColumns = [] {
  using namespace internal;
  using namespace weather_col;
  std::array<ColumnDef, kCount> c{};
  c[kId] = Id(kIdField);
  c[kDeviceId] = Key();
  c[kLatitude] = Latitude();
  c[kLongitude] = Longitude();
  c[kTimestamp] = EventTimestamp();
  c[kTemperature] = Double("temperature", -90, 60);  // °C
  c[kWeatherCondition] = Enum("weatherCondition", kWeatherConditionNames);
  c[kPrecipitation] = Double("precipitation", 0, 500);  // mm/h
  c[kWindSpeed] = Double("windSpeed", 0, 500);          // km/h
  c[kHumidity] = Int("humidity", 0, 100);               // %
  // SPEC gives no integer type: the seeds' producer writes a float. The column stays INT32 (AQI is
  // an integer index; lakes and warehouses written before keep their schema): rounded.
  c[kAirQualityIndex] = RoundedInt("airQualityIndex", 0, 500);
  AddProvenance(c, kPartition);
  return c;
}();

namespace emergency_col {
enum : int {
  kId,
  kDeviceId,
  kIncidentId,
  kType,
  kTimestamp,
  kLatitude,
  kLongitude,
  kStatus,
  kDescription,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
inline constexpr auto kEmergencyColumns = [] {
  using namespace internal;
  using namespace emergency_col;
  std::array<ColumnDef, kCount> c{};
  c[kId] = Id(kIdField);
  c[kDeviceId] = Key();
  c[kIncidentId] = Id("incidentId");
  c[kType] = Enum("type", kEmergencyTypeValues);  // "None": no incident, never joined
  c[kTimestamp] = EventTimestamp();
  c[kLatitude] = Latitude();
  c[kLongitude] = Longitude();
  c[kStatus] = Enum("status", kEmergencyStatusNames);
  c[kDescription] = Str("description");
  AddProvenance(c, kPartition);
  return c;
}();

// ---------------------------------------------------------------------------- derived tables

// enriched_data: the vehicle's position and motion, the weather there, the emergency if any
// (nullable), and where each input row came from (`_emergency*` null when there is no emergency).
namespace enriched_col {
enum : int {
  kDeviceId,
  kTimestamp,
  kLatitude,
  kLongitude,
  kSpeed,
  kDirection,
  kTemperature,
  kWeatherCondition,
  kPrecipitation,
  kWindSpeed,
  kHumidity,
  kAirQualityIndex,
  kEmergencyType,
  kEmergencyStatus,
  kIncidentId,
  kVehiclePartition,
  kVehicleOffset,
  kWeatherPartition,
  kWeatherOffset,
  kEmergencyPartition,
  kEmergencyOffset,
  kDate,
  kCount
};
}
inline constexpr auto kEnrichedColumns = [] {
  using namespace internal;
  using namespace enriched_col;
  using L = LogicalType;
  const auto& v = kVehicleColumns;
  const auto& w = kWeatherColumns;
  const auto& e = kEmergencyColumns;
  std::array<ColumnDef, kCount> c{};
  c[kDeviceId] = From(v[vehicle_col::kDeviceId]);
  c[kTimestamp] = From(v[vehicle_col::kTimestamp]);
  c[kLatitude] = From(v[vehicle_col::kLatitude]);
  c[kLongitude] = From(v[vehicle_col::kLongitude]);
  c[kSpeed] = From(v[vehicle_col::kSpeed]);
  c[kDirection] = From(v[vehicle_col::kDirection]);
  c[kTemperature] = From(w[weather_col::kTemperature]);
  c[kWeatherCondition] = From(w[weather_col::kWeatherCondition]);
  c[kPrecipitation] = From(w[weather_col::kPrecipitation]);
  c[kWindSpeed] = From(w[weather_col::kWindSpeed]);
  c[kHumidity] = From(w[weather_col::kHumidity]);
  c[kAirQualityIndex] = From(w[weather_col::kAirQualityIndex]);
  c[kEmergencyType] = From(e[emergency_col::kType], "emergencyType", true);
  c[kEmergencyStatus] = From(e[emergency_col::kStatus], "emergencyStatus", true);
  c[kIncidentId] = From(e[emergency_col::kIncidentId], e[emergency_col::kIncidentId].name, true);
  c[kVehiclePartition] = Derived("_vehiclePartition", L::kInt32);
  c[kVehicleOffset] = Derived("_vehicleOffset", L::kInt64);
  c[kWeatherPartition] = Derived("_weatherPartition", L::kInt32);
  c[kWeatherOffset] = Derived("_weatherOffset", L::kInt64);
  c[kEmergencyPartition] = Derived("_emergencyPartition", L::kInt32, true);
  c[kEmergencyOffset] = Derived("_emergencyOffset", L::kInt64, true);
  c[kDate] = Derived(kDateColumn, L::kString, false, Role::kDate);
  return c;
}();

// _dead_letters: a record that failed parsing or validation, whole. `payload` is the record's bytes
// when they are valid UTF-8 (`payloadEncoding` "utf-8"), else their base64 (`payloadEncoding`
// "base64"); it is cut to ParserOptions::dead_letter_payload_cap bytes (default 1 MiB) with
// `payloadTruncated` set, and `payloadBytes` is always the original size. `date` is of
// `receivedAt`.
namespace dead_letter_col {
enum : int {
  kTopic,
  kPartition,
  kOffset,
  kPayload,
  kPayloadEncoding,
  kPayloadBytes,
  kPayloadTruncated,
  kReason,
  kReceivedAt,
  kDate,
  kCount
};
}
inline constexpr auto kDeadLetterColumns = [] {
  using namespace internal;
  using namespace dead_letter_col;
  using L = LogicalType;
  std::array<ColumnDef, kCount> c{};
  c[kTopic] = Derived("topic", L::kString);
  c[kPartition] = Derived("partition", L::kInt32, false, Role::kPartition);
  c[kOffset] = Derived("offset", L::kInt64, false, Role::kOffset);
  c[kPayload] = Derived("payload", L::kString);
  c[kPayloadEncoding] = Derived("payloadEncoding", L::kString);
  c[kPayloadBytes] = Derived("payloadBytes", L::kInt64);
  c[kPayloadTruncated] = Derived("payloadTruncated", L::kBool);
  c[kReason] = Derived("reason", L::kString);
  c[kReceivedAt] = Derived("receivedAt", L::kTimestamp, false, Role::kReceivedAt);
  c[kDate] = Derived(kDateColumn, L::kString, false, Role::kDate);
  return c;
}();

// _late_events: a join input record whose event time was behind the join watermark when it
// arrived. `latenessMicros` = watermark - eventTime (> 0), in microseconds. `date` is of the event
// time.
namespace late_event_col {
enum : int {
  kTopic,
  kPartition,
  kOffset,
  kDeviceId,
  kEventTime,
  kWatermark,
  kLatenessMicros,
  kPayload,
  kReceivedAt,
  kDate,
  kCount
};
}
inline constexpr auto kLateEventColumns = [] {
  using namespace internal;
  using namespace late_event_col;
  using L = LogicalType;
  const auto& d = kDeadLetterColumns;
  std::array<ColumnDef, kCount> c{};
  c[kTopic] = d[dead_letter_col::kTopic];
  c[kPartition] = d[dead_letter_col::kPartition];
  c[kOffset] = d[dead_letter_col::kOffset];
  c[kDeviceId] = From(kVehicleColumns[vehicle_col::kDeviceId]);
  c[kEventTime] = Derived("eventTime", L::kTimestamp, false, Role::kEventTime);
  c[kWatermark] = Derived("watermark", L::kTimestamp);
  c[kLatenessMicros] = Derived("latenessMicros", L::kInt64);
  c[kPayload] = d[dead_letter_col::kPayload];
  c[kReceivedAt] = d[dead_letter_col::kReceivedAt];
  c[kDate] = d[dead_letter_col::kDate];
  return c;
}();

static_assert(internal::Complete(kVehicleColumns) && internal::Complete(kGpsColumns) &&
                  internal::Complete(kTrafficColumns) && internal::Complete(kWeatherColumns) &&
                  internal::Complete(kEmergencyColumns) && internal::Complete(kEnrichedColumns) &&
                  internal::Complete(kDeadLetterColumns) && internal::Complete(kLateEventColumns),
              "every column an enum names must be declared in its table");

// ------------------------------------------------------------------------------------ tables

// Every table the pipeline writes, in a fixed order (the raw tables first, in Topic order).
enum class Table : uint8_t {
  kVehicle = 0,
  kGps,
  kTraffic,
  kWeather,
  kEmergency,
  kEnriched,
  kDeadLetters,
  kLateEvents
};
inline constexpr size_t kTableCount = 8;

// How a topic takes part in the enriched_data join (SPEC section 3):
//   vehicle v INNER JOIN weather w ... LEFT JOIN emergency e, all ON deviceId and the time window.
enum class JoinRole : uint8_t {
  kNone,       // not joined (gps, traffic)
  kDriving,    // each row yields enriched rows (vehicle)
  kInner,      // a driving row waits for a match (weather)
  kLeftOuter,  // matched if present, NULLs once the watermark passes (emergency)
};

struct TableDef {
  std::string_view name;
  std::span<const ColumnDef> columns;
  // The columns that identify a row (the warehouse's primary key); empty: no key (one late input
  // record may be late for more than one join).
  std::span<const int> identity;
  JoinRole join = JoinRole::kNone;
};

namespace internal {
inline constexpr int kVehicleIdentity[] = {vehicle_col::kPartition, vehicle_col::kOffset};
inline constexpr int kGpsIdentity[] = {gps_col::kPartition, gps_col::kOffset};
inline constexpr int kTrafficIdentity[] = {traffic_col::kPartition, traffic_col::kOffset};
inline constexpr int kWeatherIdentity[] = {weather_col::kPartition, weather_col::kOffset};
inline constexpr int kEmergencyIdentity[] = {emergency_col::kPartition, emergency_col::kOffset};
// One row per joined (vehicle, weather, emergency) record triple: a duplicated weather record joins
// the same vehicle record twice.
inline constexpr int kEnrichedIdentity[] = {
    enriched_col::kVehiclePartition,   enriched_col::kVehicleOffset,
    enriched_col::kWeatherPartition,   enriched_col::kWeatherOffset,
    enriched_col::kEmergencyPartition, enriched_col::kEmergencyOffset};
inline constexpr int kDeadLetterIdentity[] = {dead_letter_col::kTopic, dead_letter_col::kPartition,
                                              dead_letter_col::kOffset};
}  // namespace internal

inline constexpr std::array<TableDef, kTableCount> kTables = {{
    {"vehicle_data", kVehicleColumns, internal::kVehicleIdentity, JoinRole::kDriving},
    {"gps_data", kGpsColumns, internal::kGpsIdentity},
    {"traffic_data", kTrafficColumns, internal::kTrafficIdentity},
    {"weather_data", kWeatherColumns, internal::kWeatherIdentity, JoinRole::kInner},
    {"emergency_data", kEmergencyColumns, internal::kEmergencyIdentity, JoinRole::kLeftOuter},
    {"enriched_data", kEnrichedColumns, internal::kEnrichedIdentity},
    {"_dead_letters", kDeadLetterColumns, internal::kDeadLetterIdentity},
    {"_late_events", kLateEventColumns, {}},
}};

constexpr const TableDef& Def(Table t) {
  return kTables[static_cast<size_t>(t)];
}
constexpr Table TableOf(Topic t) {
  return static_cast<Table>(t);
}
constexpr std::optional<Topic> TopicOf(Table t) {
  if (static_cast<size_t>(t) >= kTopicCount) return std::nullopt;
  return static_cast<Topic>(t);
}
constexpr std::string_view TableName(Table t) {
  return Def(t).name;
}
constexpr std::span<const ColumnDef> Columns(Table t) {
  return Def(t).columns;
}
constexpr std::span<const ColumnDef> RawColumns(Topic t) {
  return Columns(TableOf(t));
}
constexpr std::string_view ColumnName(Table t, int column) {
  return Columns(t)[static_cast<size_t>(column)].name;
}
// The table called `name` ("enriched_data" -> kEnriched), or nullopt.
std::optional<Table> TableFromName(std::string_view name);
// The table's schema (built once from its columns).
const std::shared_ptr<const Schema>& SchemaOf(Table t);
inline constexpr std::string_view kEnrichedTable = kTables[5].name;
inline constexpr std::string_view kDeadLettersTable = kTables[6].name;
inline constexpr std::string_view kLateEventsTable = kTables[7].name;

// A raw table is named as its topic's default name.
static_assert([] {
  for (Topic t : kAllTopics) {
    if (TableName(TableOf(t)) != DefaultTopicName(t)) return false;
  }
  return true;
}());

// Index of the column of `t` with `role` (the first), or -1.
constexpr int ColumnWithRole(Table t, Role role) {
  const auto cols = Columns(t);
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].role == role) return static_cast<int>(i);
  }
  return -1;
}

// ------------------------------------------------------------------------------- JSON fields

// One JSON field of a topic, as the parser reads it and the simulator writes it.
struct JsonField {
  std::string_view name;
  Wire wire = Wire::kNone;
  int column = -1;  // in the raw table; for kLocation the latitude column (longitude is the next)
  double min = 0;
  double max = 0;
  std::span<const std::string_view> values = {};
  bool rounds_fraction = false;  // ColumnDef::rounds_fraction
  // The JSON type the simulator writes: a number for kDouble / kInt, else a string.
  constexpr bool is_number() const { return wire == Wire::kDouble || wire == Wire::kInt; }
};

constexpr size_t JsonFieldCount(Topic t) {
  size_t n = 0;
  for (const ColumnDef& c : RawColumns(t)) n += JsonName(c).empty() ? 0 : 1;
  return n;
}

// The JSON fields of topic T in the order the simulator writes them (the raw table's order).
template <Topic T>
constexpr std::array<JsonField, JsonFieldCount(T)> JsonFieldsOf() {
  std::array<JsonField, JsonFieldCount(T)> out{};
  const auto cols = RawColumns(T);
  size_t n = 0;
  for (size_t i = 0; i < cols.size(); ++i) {
    const std::string_view json = JsonName(cols[i]);
    if (json.empty()) continue;
    out[n++] = {json,        cols[i].wire,   static_cast<int>(i),    cols[i].min,
                cols[i].max, cols[i].values, cols[i].rounds_fraction};
  }
  return out;
}

// The index among JsonFieldsOf<T>() of the field that fills `column`, or -1.
template <Topic T>
constexpr int JsonFieldIndex(int column) {
  constexpr auto fields = JsonFieldsOf<T>();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].column == column) return static_cast<int>(i);
  }
  return -1;
}

// The keys of topic T as a JSON writer puts them, `"name":`, built at compile time, and indexed
// like JsonFieldsOf<T>().
template <Topic T>
struct QuotedJsonKeys {
  static constexpr auto kFields = JsonFieldsOf<T>();
  static constexpr size_t kBytes = [] {
    size_t n = 0;
    for (const JsonField& f : kFields) n += f.name.size() + 3;
    return n;
  }();
  static constexpr std::array<char, kBytes> kText = [] {
    std::array<char, kBytes> out{};
    size_t n = 0;
    for (const JsonField& f : kFields) {
      out[n++] = '"';
      for (char ch : f.name) out[n++] = ch;
      out[n++] = '"';
      out[n++] = ':';
    }
    return out;
  }();
  static constexpr std::array<std::string_view, kFields.size()> kKeys = [] {
    std::array<std::string_view, kFields.size()> out{};
    size_t n = 0;
    for (size_t i = 0; i < kFields.size(); ++i) {
      out[i] = std::string_view(kText.data() + n, kFields[i].name.size() + 3);
      n += kFields[i].name.size() + 3;
    }
    return out;
  }();
};

}  // namespace smartcity::model

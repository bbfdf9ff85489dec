// The names of lake columns in a warehouse (docs/warehouse.md, "Column names").
//
// Lake columns keep the producers' JSON names (deviceId, weatherCondition, _vehiclePartition):
// Parquet and Delta preserve case. PostgreSQL and Redshift fold an unquoted identifier to lower
// case, so a camelCase column could only be reached quoted ("deviceId"). A warehouse table
// therefore names each column in snake_case, spelled so that it can be typed unquoted in
// PostgreSQL and Redshift alike, the same in every warehouse:
//   1. lower case, an underscore at each word boundary of camelCase (deviceId -> device_id,
//      airQualityIndex -> air_quality_index, GPSSpeed -> gps_speed, _vehiclePartition ->
//      _vehicle_partition); any character other than a-z, 0-9 and _ becomes _ ;
//   2. a name that starts with a digit, or is empty, gets a leading _ ;
//   3. a word that PostgreSQL or Redshift reserves (offset, timestamp, partition, user, ...) gets
//      a trailing _ (timestamp -> timestamp_);
//   4. at most 63 bytes (PostgreSQL's limit);
//   5. within one table, a name that an earlier column already took gets _2, _3, ... .
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smartcity::warehouse {

// Rules 1-4 for one column name.
std::string WarehouseColumnName(std::string_view lake_name);

// The warehouse names of a table's lake columns, in order (rules 1-5).
std::vector<std::string> WarehouseColumnNames(const std::vector<std::string>& lake_names);

// Whether PostgreSQL (its reserved key words, including those that can only be a function or type
// name) or Redshift reserves `word` (lower case).
bool IsReservedWord(std::string_view word);

}  // namespace smartcity::warehouse

// Avro object container files (the Avro 1.11 specification, "Object Container Files") in memory,
// over Apache Avro's C library (libavro): it encodes and decodes every datum — the header record,
// the block counts and the records — and this file only lays them out as the specification says
// (header, one block, sync marker).
//
// Why not libavro's own file writer: it writes the header's `avro.schema` from its parsed schema,
// which drops the attributes Iceberg needs in it (`field-id` on every field, `logicalType: map`),
// and it cannot write other header metadata (Iceberg's `schema`, `partition-spec`,
// `format-version`, … keys). Both are required by the Iceberg spec for manifests and manifest lists
// (lake/iceberg.h).
//
// Records are built and read as nlohmann::json values shaped like the schema: a record is an
// object by field name, a union ["null", T] is null or the T value, an array is an array, bytes
// and strings are strings, int/long are integers, boolean is a bool.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace smartcity::lake {

struct AvroFile {
  std::string schema_json;                  // the writer schema, as written in the header
  std::map<std::string, std::string> meta;  // header metadata other than avro.schema/avro.codec
  std::vector<nlohmann::json> records;
};

// Encodes `file` (codec null, one data block). kInvalidArgument if the schema does not parse or a
// record does not fit it.
Result<std::string> EncodeAvroFile(const AvroFile& file);
// Decodes a container file with the null codec. kCorruption if it is not one.
Result<AvroFile> DecodeAvroFile(std::string_view bytes);

}  // namespace smartcity::lake

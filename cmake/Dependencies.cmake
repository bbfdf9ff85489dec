# Every third-party library is found here, once. Debian packages come from scripts/setup.sh;
# DuckDB's prebuilt library and header come from the npm packages it unpacks into .cache/duckdb.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(simdjson REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
# Apache Avro's C library: the Iceberg manifests and manifest lists (src/lake/iceberg.h).
pkg_check_modules(AVRO REQUIRED IMPORTED_TARGET avro-c)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(CURL REQUIRED)
if(SMARTCITY_BENCH)
  find_package(benchmark REQUIRED)
endif()

set(SMARTCITY_DUCKDB_DIR "${CMAKE_SOURCE_DIR}/.cache/duckdb" CACHE PATH
    "Folder with duckdb.h and libduckdb.so (scripts/setup.sh fills it)")
if(EXISTS "${SMARTCITY_DUCKDB_DIR}/duckdb.h" AND EXISTS "${SMARTCITY_DUCKDB_DIR}/libduckdb.so")
  add_library(duckdb SHARED IMPORTED GLOBAL)
  set_target_properties(duckdb PROPERTIES
    IMPORTED_LOCATION "${SMARTCITY_DUCKDB_DIR}/libduckdb.so"
    INTERFACE_INCLUDE_DIRECTORIES "${SMARTCITY_DUCKDB_DIR}")
  set(SMARTCITY_HAVE_DUCKDB ON)
else()
  message(WARNING "DuckDB not found in ${SMARTCITY_DUCKDB_DIR}: run scripts/setup.sh")
  set(SMARTCITY_HAVE_DUCKDB OFF)
endif()

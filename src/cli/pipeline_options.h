// Options shared by the commands that run the stream processor (run, and stream from Kafka).
#pragma once

#include <string>

#include "cli/command.h"
#include "lake/object_store.h"
#include "pipeline/processor.h"

namespace smartcity::cli {

struct PipelineArgs {
  std::string lake = "smartcity-lake";  // a local folder (S3 comes with issue 5)
  pipeline::ProcessorOptions processor;
  int partitions = 6;  // in-process transport: partitions per topic
  int epoch_mib = 64;  // --epoch-memory: processor.max_epoch_bytes in MiB
  // Lake maintenance while streaming (processor.maintenance; on unless --maintenance off).
  bool maintenance = true;
  Micros vacuum_retention = std::chrono::hours(1);
  Micros log_retention = std::chrono::hours(1);
};

void AddPipelineOptions(CLI::App* app, PipelineArgs* args);
Status ValidatePipeline(const PipelineArgs& args);
// The processor options the arguments describe.
pipeline::ProcessorOptions ProcessorOptionsOf(const PipelineArgs& args);

// The lake store of a pipeline command. For crash tests, the environment variable
// SMARTCITY_CRASH_POINT="<op>:<key substring>:<n>[:after]" makes the process kill itself (SIGKILL,
// as kill -9 would) at the n-th lake operation <op> (put, put-if-absent, put-file, delete) whose
// key contains the substring, before the operation or right after it: a crash at an exact step of
// the commit protocol, from outside. It first writes "smartcity: crash point <spec> fired" on
// stderr, which the crash tests require. Unset in normal use.
struct PipelineStore {
  std::unique_ptr<lake::ObjectStore> base;
  std::unique_ptr<lake::ObjectStore> crash_point;
  lake::ObjectStore* get() const { return crash_point ? crash_point.get() : base.get(); }
};
Result<PipelineStore> OpenPipelineStore(const PipelineArgs& args);

}  // namespace smartcity::cli

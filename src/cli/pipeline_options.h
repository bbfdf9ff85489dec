// Options shared by the commands that run the stream processor (run, and stream from Kafka).
#pragma once

#include <string>

#include "cli/command.h"
#include "stream/processor.h"

namespace smartcity::cli {

struct PipelineArgs {
  std::string lake = "smartcity-lake";  // a local folder (S3 comes with issue 5)
  stream::ProcessorOptions processor;
  int partitions = 6;                   // in-process transport: partitions per topic
};

void AddPipelineOptions(CLI::App* app, PipelineArgs* args);
Status ValidatePipeline(const PipelineArgs& args);

}  // namespace smartcity::cli

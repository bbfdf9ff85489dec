#include "cli/pipeline_options.h"

namespace smartcity::cli {

void AddPipelineOptions(CLI::App* app, PipelineArgs* a) {
  app->add_option("--lake", a->lake, "Lake root: a local folder or s3://bucket/prefix (docs/s3.md)")->capture_default_str()->group("Pipeline");
  app->add_option("--query", a->processor.query,
                  "Name of this processing query: its checkpoints (_checkpoints/<query>) and Delta txn ids")
      ->capture_default_str()
      ->group("Pipeline");
  AddDurationOption(app, "--trigger", &a->processor.trigger, "Lake commit interval")->group("Pipeline");
  AddDurationOption(app, "--watermark-delay", &a->processor.core.join.watermark.delay,
                    "D: how late an event may arrive and still be joined")
      ->group("Pipeline");
  AddDurationOption(app, "--join-window", &a->processor.core.join.window,
                    "J: weather/emergency events within +-J of a vehicle reading join it (0 = same timestamp)")
      ->group("Pipeline");
  AddDurationOption(app, "--idle-timeout", &a->processor.core.join.watermark.idle_timeout,
                    "Processing time after which a silent input stops holding the watermark back")
      ->group("Pipeline");
}

Status ValidatePipeline(const PipelineArgs& a) {
  if (a.lake.empty()) return Status::InvalidArgument("--lake must name a folder or s3://bucket/prefix");
  if (a.processor.trigger < std::chrono::milliseconds(10)) {
    return Status::InvalidArgument("--trigger must be at least 10ms");
  }
  if (a.partitions < 1 || a.partitions > 1024) return Status::InvalidArgument("--partitions must be 1..1024");
  return Status::OK();
}

}  // namespace smartcity::cli

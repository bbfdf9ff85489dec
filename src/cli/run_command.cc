// smartcity run: the whole pipeline in one process on the embedded defaults.
//
// Until the stream processor lands (issue 4) this runs the simulator in real time and writes its
// events to stdout as JSON lines; later it wires simulator -> in-process transport -> stream processor
// -> lake -> warehouse loader -> live view.
#include "cli/command.h"
#include "cli/simulate_command.h"

namespace smartcity::cli {

void RegisterRun(CLI::App& root, CommandList& commands) {
  static SimulateArgs storage;  // lives for the whole process, like the App (static: no leak report)
  SimulateArgs* args = &storage;
  CLI::App* app = root.add_subcommand(
      "run", "Run the pipeline on the embedded defaults (for now: the city simulator in real time to stdout)");
  args->speedup_text = "1";
  AddSimulationOptions(app, args);
  AddOutputOptions(app, args);
  commands.push_back({app, [args]() -> int {
                        Status st = args->Finish();
                        if (!st.ok()) return ReportError(st);
                        InstallStopSignalHandlers();
                        auto sink = LineSink::Open(args->output, args->format, args->topics);
                        // An --output that cannot be opened is a bad value: nothing was done (exit 2).
                        if (!sink.ok()) return UsageError(sink.status().message());
                        return RunSimulationToSink("run", *args, **sink);
                      }});
}

}  // namespace smartcity::cli

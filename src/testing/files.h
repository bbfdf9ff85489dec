// Test support: a fresh temporary directory owned by a test, and whole-file reads.
//
// Ownership: a TempDir owns its directory and everything in it; destroying it removes the tree,
// unless SMARTCITY_KEEP_TEST_DIR is set in the environment or Keep() was called (then the path is
// printed on stderr, so a failed test leaves its evidence behind).
//
// Thread-safety: none; one TempDir belongs to one test.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace smartcity::test {

class TempDir {
 public:
  // Creates <TMPDIR or /tmp>/<prefix>-XXXXXX (mkdtemp: unique even across parallel test processes).
  // Aborts the test binary if the directory cannot be made: no test can run without it.
  explicit TempDir(std::string_view prefix = "smartcity-test");
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string string() const { return path_.string(); }
  std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

  // Leaves the directory on disk when this object goes away (e.g. Keep(HasFailure())).
  void Keep(bool keep = true) { keep_ = keep_ || keep; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// The whole content of `path`; empty when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace smartcity::test

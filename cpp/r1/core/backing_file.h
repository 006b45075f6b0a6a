// A file whose bytes tensors read in place: a mapped .r1 file's weights.
//
//   graph.add_backing(mapped_file);                 // load_r1 does this
//   std::string why = backing->changed();            // "" while the file is as it was loaded
//
// Why: an operator who copies a new model over the served one (`cp new.r1 model.r1` rewrites the same
// inode) changes or truncates the bytes under the mapping. Reading a truncated page is a SIGBUS, and
// reading a rewritten one silently mixes two models' weights. The executor asks every backing file
// before and after each run and fails the run with ModelError when one changed: never a crash, never
// an answer computed from weights that were not the model's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace r1 {

class BackingFile {
 public:
  virtual ~BackingFile() = default;
  // "" when the bytes are those that were loaded; otherwise what happened, naming the file. Once a
  // file has changed it stays changed (its mapping no longer holds the loaded model).
  virtual std::string changed() const = 0;
  // The NVMe tier (runtime/weight_streamer.h) reads weights from their home on disk instead of through the
  // mapping. True when [p, p + n) lies in this file's bytes, with *offset its position in the file.
  virtual bool locate(const void* p, size_t n, uint64_t* offset) const { return false; }
  // A path that opens the file as it was loaded ("/proc/self/fd/N": the bytes this engine's weights are,
  // even after the name was renamed over or unlinked).
  virtual std::string reopen_path() const { return ""; }
  // The name it was loaded by, for messages.
  virtual std::string path() const { return ""; }
};

}  // namespace r1

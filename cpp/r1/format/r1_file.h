// The .r1 compiled-model file.
//
//   save_r1(graph, {{"source", "model.onnx"}}, "model.r1");
//   LoadedModel m = load_r1("model.r1");    // mmap; weights are views of the mapping, not copies
//   LoadedModel m = load_r1("model.r1", true, /*map=*/false);   // a private copy of the file's bytes
//
// Layout (little-endian):
//   [0, 64)      header: magic "R1MODEL\0", format version, flags, file size, IR offset/size,
//                weights offset/size, checksum of everything but the checksum field itself
//   [64, ...)    IR: metadata, opsets, symbols, inputs, constants (offsets into the weights
//                section), nodes with attributes, outputs
//   weights      one blob per constant: the section starts on a 4 KiB page (version 3), blobs of 4 KiB or more
//                start on a page, smaller ones on 64 bytes (versions 1 and 2: every blob on 64 bytes)
// A file that is truncated, corrupted, or of a format version this build does not read raises ModelError.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "r1/ir/graph.h"

namespace r1 {

// Written: version 5. Read: 1 to 5. Version 5 stores a graph input's kind (tensor, sequence, optional: graph.h)
// in the two high bits of its dtype byte. Version 4 adds subgraph attributes (If, Loop, Scan; their constants share
// the weights section); its layout is version 3's otherwise. Version 2 hashes the file in 8 MB segments that verify in
// parallel (version 1: one pass); version 3 puts the weights and every blob of 4 KiB or more on a 4 KiB page, so the
// NVMe tier reads them with O_DIRECT (io/direct_reader.h). The reader needs only 64-byte alignment of any version.
constexpr uint32_t kR1FormatVersion = 5;
constexpr uint32_t kR1OldestFormatVersion = 1;

struct LoadedModel {
  std::shared_ptr<Graph> graph;
  std::map<std::string, std::string> metadata;
};

void save_r1(const Graph& g, const std::map<std::string, std::string>& metadata, const std::string& path);
// verify_checksum=false skips the checksum (a ~10 ms/100 MB hash); the header and every length and
// offset in the IR are still bounds-checked, so a damaged file raises ModelError or loads a
// well-formed (if altered) graph, never reads out of bounds.
//
// map=true shares the page cache and starts in milliseconds; the graph's backing file (graph.h) tells the
// executor if the file is then changed in place. map=false reads the file into private memory (one read
// at page-cache speed): changing the file afterwards cannot affect the loaded model, which is what a
// server that must keep serving while an operator copies a new model over the old one wants.
LoadedModel load_r1(const std::string& path, bool verify_checksum = true, bool map = true);

}  // namespace r1

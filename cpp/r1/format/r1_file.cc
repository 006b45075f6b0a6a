#include "r1/format/r1_file.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>
#include <unordered_map>

#include "r1/core/buffer.h"
#include "r1/format/byte_io.h"
#include "r1/format/mapped_file.h"
#include "r1/ir/builder.h"

namespace r1 {

namespace {

constexpr char kMagic[8] = {'R', '1', 'M', 'O', 'D', 'E', 'L', '\0'};
constexpr size_t kAlign = 64;        // every blob: what every kernel may assume of a tensor (all versions)
constexpr size_t kPageAlign = 4096;  // version 3: the weights section, and every blob of a page or more

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t flags;
  uint64_t file_size;
  uint64_t ir_offset, ir_size;
  uint64_t weights_offset, weights_size;
  uint64_t checksum;  // checksum64 of the file with this field zeroed
};
static_assert(sizeof(Header) == 64, "the .r1 header is 64 bytes");

// The body hash is seeded with the hash of the header (checksum field zeroed), so the file is
// verified in place without copying it. Version 1 hashed the body in one sequential pass; version 2
// in segments (format::segmented_checksum) that verify on every core.
uint64_t file_checksum(Header h, const char* body, size_t n, int threads,
                       const std::function<void(size_t, size_t)>& after = nullptr) {
  const uint32_t version = h.version;
  h.checksum = 0;
  const uint64_t seed = format::checksum64(&h, sizeof(h));
  if (version == 1) return format::checksum64(body, n, seed, format::kChecksumSegment, after);
  return format::segmented_checksum(body, n, seed, threads, after);
}

// Verifying a file reads all of it, on every core. For a mapping, each verified segment is dropped from
// memory again, or every weight would stay resident (and count in the process's RSS) from load on, even
// those the compiler then repacks and never reads in their mapped form again. A private copy must keep
// its pages: dropped, they would read back as zeros.
uint64_t loaded_file_checksum(const Header& h, const char* body, size_t n, bool mapped) {
  const int threads = static_cast<int>(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  if (!mapped) return file_checksum(h, body, n, threads);
  return file_checksum(h, body, n, threads, [body](size_t off, size_t len) { drop_file_pages(body + off, len); });
}

size_t align_up(size_t n, size_t a = kAlign) { return (n + a - 1) / a * a; }

// Where the next blob of `nbytes` starts after `off`: blobs of 4 KiB or more on a page boundary, so the NVMe
// tier reads each with O_DIRECT (aligned offset and length) without a neighbour's bytes; smaller ones packed at
// 64 bytes, so biases and norms cost no page each.
uint64_t blob_offset(uint64_t off, size_t nbytes) { return align_up(off, nbytes >= kPageAlign ? kPageAlign : kAlign); }

// Constants of the graph and of its subgraphs, each at its blob_offset() in the weights section.
struct WeightList {
  std::vector<const Value*> consts;
  std::vector<uint64_t> offsets;
  uint64_t end = 0;
};

void write_graph(format::ByteWriter& w, const Graph& g, WeightList& wl, bool top);

void write_attr(format::ByteWriter& w, const Attribute& a, WeightList& wl) {
  w.pod<uint8_t>(static_cast<uint8_t>(a.kind));
  switch (a.kind) {
    case Attribute::Kind::Int:
      w.pod(a.i);
      break;
    case Attribute::Kind::Float:
      w.pod(a.f);
      break;
    case Attribute::Kind::String:
      w.str(a.s);
      break;
    case Attribute::Kind::Ints:
      w.vec(a.ints);
      break;
    case Attribute::Kind::Floats:
      w.vec(a.floats);
      break;
    case Attribute::Kind::Strings:
      w.pod<uint32_t>(static_cast<uint32_t>(a.strings.size()));
      for (auto& s : a.strings) w.str(s);
      break;
    case Attribute::Kind::Tensor:
      w.pod<uint8_t>(static_cast<uint8_t>(a.t.dtype()));
      w.vec(a.t.shape());
      w.bytes(a.t.raw(), a.t.nbytes());
      break;
    case Attribute::Kind::Graph:  // (version 4)
      write_graph(w, *a.g, wl, false);
      break;
  }
}

// The graph's body: opsets, symbols, inputs, constants, nodes, outputs. A subgraph's inputs are names only:
// loading types them from the node that runs it, as building did.
void write_graph(format::ByteWriter& w, const Graph& g, WeightList& wl, bool top) {
  w.pod<uint32_t>(static_cast<uint32_t>(g.opsets().size()));
  for (auto& kv : g.opsets()) {
    w.str(kv.first);
    w.pod<int32_t>(kv.second);
  }
  w.pod<uint32_t>(static_cast<uint32_t>(g.symbols().size()));
  for (auto& s : g.symbols()) w.str(s);
  w.pod<uint32_t>(static_cast<uint32_t>(g.inputs().size()));
  for (const Value* v : g.inputs()) {
    w.str(v->name);
    if (!top) continue;
    w.pod<uint8_t>(static_cast<uint8_t>(static_cast<uint8_t>(v->dtype) | (static_cast<uint8_t>(v->kind) << 6)));
    w.vec(v->shape);
  }
  std::vector<const Value*> consts;
  for (auto& v : g.values())
    if (v->is_constant()) consts.push_back(v.get());
  w.pod<uint32_t>(static_cast<uint32_t>(consts.size()));
  for (const Value* v : consts) {
    R1_CHECK(v->constant.dtype() != DType::String, ModelError)
        << "constant '" << v->name << "' holds strings, which .r1 files cannot store yet (run the ONNX model)";
    w.str(v->name);
    w.pod<uint8_t>(static_cast<uint8_t>(v->constant.dtype()));
    w.vec(v->constant.shape());
    wl.end = blob_offset(wl.end, v->constant.nbytes());
    wl.consts.push_back(v);
    wl.offsets.push_back(wl.end);
    w.pod<uint64_t>(wl.end);
    wl.end += v->constant.nbytes();
  }
  w.pod<uint32_t>(static_cast<uint32_t>(g.nodes().size()));
  for (auto& n : g.nodes()) {
    w.str(n->op_type);
    w.str(n->domain);
    w.str(n->name);
    w.pod<int32_t>(n->opset);
    w.pod<uint32_t>(static_cast<uint32_t>(n->inputs.size()));
    for (const Value* in : n->inputs) w.str(in ? in->name : "");
    w.pod<uint32_t>(static_cast<uint32_t>(n->outputs.size()));
    for (const Value* out : n->outputs) w.str(out ? out->name : "");
    w.pod<uint32_t>(static_cast<uint32_t>(n->attrs.all().size()));
    for (auto& kv : n->attrs.all()) {
      w.str(kv.first);
      write_attr(w, kv.second, wl);
    }
  }
  w.pod<uint32_t>(static_cast<uint32_t>(g.outputs().size()));
  for (const Value* v : g.outputs()) w.str(v->name);
}

DType read_dtype(format::ByteReader& r) {
  uint8_t code = r.pod<uint8_t>();
  R1_CHECK(dtype_is_valid_code(code), ModelError) << "corrupt .r1 file: unknown dtype code " << int(code);
  return static_cast<DType>(code);
}

Shape read_shape(format::ByteReader& r) {
  Shape s = r.vec<int64_t>();
  R1_CHECK(s.size() <= 64, ModelError) << "corrupt .r1 file: a tensor of rank " << s.size();
  return s;
}

// Where a graph's constants lie: each views the mapping, so the file stays mapped while any weight is in use.
// A private copy is Host memory: its pages must never be dropped (they would read back as zeros, not fault back
// in from the file as a mapping's do).
struct GraphSource {
  std::string what;
  const char* weights;
  uint64_t weights_size;
  std::shared_ptr<void> keep;
  MemoryKind kind;
  int depth;  // of subgraph nesting: bounded, so a corrupt file cannot recurse without end
};

void read_graph(format::ByteReader& r, Graph& g, GraphSource& src, bool top);

Attribute read_attr(format::ByteReader& r, GraphSource& src) {
  uint8_t kind = r.pod<uint8_t>();
  switch (static_cast<Attribute::Kind>(kind)) {
    case Attribute::Kind::Int:
      return Attribute::make_int(r.pod<int64_t>());
    case Attribute::Kind::Float:
      return Attribute::make_float(r.pod<float>());
    case Attribute::Kind::String:
      return Attribute::make_string(r.str());
    case Attribute::Kind::Ints:
      return Attribute::make_ints(r.vec<int64_t>());
    case Attribute::Kind::Floats:
      return Attribute::make_floats(r.vec<float>());
    case Attribute::Kind::Strings: {
      std::vector<std::string> v(r.count(4));
      for (auto& s : v) s = r.str();
      return Attribute::make_strings(std::move(v));
    }
    case Attribute::Kind::Tensor: {
      DType dt = read_dtype(r);
      Shape shape = read_shape(r);
      uint64_t n = 0;
      const char* p = r.bytes(&n);
      uint64_t want = 0;
      R1_CHECK(checked_nbytes(shape, dtype_size(dt), &want) && n == want, ModelError)
          << "corrupt .r1 file: attribute tensor size mismatch";
      Tensor t = Tensor::empty(dt, shape);
      if (n) std::memcpy(t.raw(), p, n);
      return Attribute::make_tensor(std::move(t));
    }
    case Attribute::Kind::Graph: {
      R1_CHECK(src.depth < 64, ModelError) << src.what << " is corrupt: subgraphs nested more than 64 deep";
      auto sub = std::make_shared<Graph>();
      sub->set_subgraph(true);
      ++src.depth;
      read_graph(r, *sub, src, false);
      --src.depth;
      return Attribute::make_graph(std::move(sub));
    }
  }
  R1_THROW(ModelError) << "corrupt .r1 file: unknown attribute kind " << int(kind);
}

void read_graph(format::ByteReader& r, Graph& g, GraphSource& src, bool top) {
  const std::string& what = src.what;
  for (uint32_t i = 0, n = r.count(8); i < n; ++i) {
    std::string dom = r.str();
    g.set_opset(dom, r.pod<int32_t>());
  }
  for (uint32_t i = 0, n = r.count(4); i < n; ++i) g.symbol(r.str());
  auto check_shape = [&](const Shape& s) {
    for (int64_t d : s)
      // In 64 bits: a corrupt dim must not wrap into a valid-looking symbol index.
      R1_CHECK(d >= kUnknownDim || (-2 - d) < static_cast<int64_t>(g.symbols().size()), ModelError)
          << what << " is corrupt: a dim refers to an unknown symbol";
  };
  for (uint32_t i = 0, n = r.count(top ? 9 : 4); i < n; ++i) {
    std::string name = r.str();
    if (!top) {  // typed by the node that runs it, in finalize_graph
      g.add_input(name, DType::Undefined, {})->has_shape = false;
      continue;
    }
    uint8_t code = r.pod<uint8_t>();  // the kind in the high bits (version 5; 0: a tensor)
    auto kind = static_cast<ValueKind>(code >> 6);
    R1_CHECK(dtype_is_valid_code(code & 0x3f), ModelError) << "corrupt .r1 file: unknown dtype code " << int(code);
    DType dt = static_cast<DType>(code & 0x3f);
    Shape s = read_shape(r);
    check_shape(s);
    Value* in = g.add_input(name, dt, s);
    if (kind != ValueKind::Tensor) {
      in->kind = kind;
      in->has_shape = false;
      in->shape.clear();
    }
  }
  for (uint32_t i = 0, n = r.count(17); i < n; ++i) {
    std::string name = r.str();
    DType dt = read_dtype(r);
    Shape s = read_shape(r);
    uint64_t off = r.pod<uint64_t>();
    uint64_t nbytes = 0;
    R1_CHECK(checked_nbytes(s, dtype_size(dt), &nbytes), ModelError)
        << what << " is corrupt: constant '" << name << "' has an invalid shape " << shape_str(s);
    R1_CHECK(off % kAlign == 0 && off <= src.weights_size && nbytes <= src.weights_size - off, ModelError)
        << what << " is corrupt: constant '" << name << "' lies outside the weights section";
    auto buf = std::make_shared<ExternalBuffer>(const_cast<char*>(src.weights + off), nbytes, src.kind, src.keep);
    g.add_constant(name, Tensor(dt, s, std::move(buf)));
  }
  struct PendingInputs {
    Node* node;
    std::vector<std::string> names;
  };
  std::vector<PendingInputs> pending;
  for (uint32_t i = 0, n = r.count(16); i < n; ++i) {
    std::string op = r.str(), dom = r.str(), name = r.str();
    int32_t opset = r.pod<int32_t>();
    std::vector<std::string> ins(r.count(4));
    for (auto& s : ins) s = r.str();
    std::vector<std::string> outs(r.count(4));
    for (auto& s : outs) s = r.str();
    AttributeMap attrs;
    for (uint32_t a = 0, na = r.count(5); a < na; ++a) {
      std::string key = r.str();
      attrs.set(key, read_attr(r, src));
    }
    Node* node = g.add_node(op, dom, name, std::vector<Value*>(ins.size(), nullptr), outs, std::move(attrs), opset);
    pending.push_back({node, std::move(ins)});
  }
  for (auto& p : pending) {
    for (size_t i = 0; i < p.names.size(); ++i) {
      if (p.names[i].empty()) continue;
      Value* v = g.get(p.names[i]);
      p.node->inputs[i] = v;
      v->consumers.push_back(p.node);
    }
  }
  for (uint32_t i = 0, n = r.count(4); i < n; ++i) g.mark_output(g.get(r.str()));
}

// Subgraphs' constants view the file too: their executors check it around each run as the graph's does.
void add_backing_deep(Graph& g, const std::shared_ptr<const BackingFile>& f) {
  g.add_backing(f);
  for (auto& n : g.nodes())
    for (auto& [attr, sub] : subgraphs_of(*n)) {
      (void)attr;
      add_backing_deep(*sub, f);
    }
}

}  // namespace

void save_r1(const Graph& g, const std::map<std::string, std::string>& metadata, const std::string& path) {
  format::ByteWriter w;
  w.pod<uint32_t>(static_cast<uint32_t>(metadata.size()));
  for (auto& kv : metadata) {
    w.str(kv.first);
    w.str(kv.second);
  }
  WeightList wl;
  write_graph(w, g, wl, true);
  const std::vector<const Value*>& consts = wl.consts;
  const std::vector<uint64_t>& offsets = wl.offsets;
  uint64_t weights_size = align_up(wl.end);

  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kR1FormatVersion;
  h.ir_offset = sizeof(Header);
  h.ir_size = w.data().size();
  h.weights_offset = align_up(h.ir_offset + h.ir_size, kPageAlign);
  h.weights_size = weights_size;
  h.file_size = h.weights_offset + weights_size;

  // Assemble in memory once so the checksum covers exactly the bytes written.
  std::vector<char> file(h.file_size, 0);
  std::memcpy(file.data() + h.ir_offset, w.data().data(), h.ir_size);
  for (size_t i = 0; i < consts.size(); ++i)
    if (consts[i]->constant.nbytes())
      std::memcpy(file.data() + h.weights_offset + offsets[i], consts[i]->constant.raw(), consts[i]->constant.nbytes());
  h.checksum = file_checksum(h, file.data() + sizeof(Header), file.size() - sizeof(Header), 1);
  std::memcpy(file.data(), &h, sizeof(h));

  // Write to a temporary name unique to this save and rename, so a reader never sees a
  // half-written model and concurrent saves to one path do not interleave.
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  bool ok = false;
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (f.good()) {
      f.write(file.data(), static_cast<std::streamsize>(file.size()));
      f.flush();
      ok = f.good();
    }
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    R1_THROW(ModelError) << "cannot write '" << path << "' (directory missing, not writable, or disk full?)";
  }
}

LoadedModel load_r1(const std::string& path, bool verify_checksum, bool map) {
  auto file = map ? MappedFile::open(path) : MappedFile::read(path);
  const std::string what = "'" + path + "'";
  R1_CHECK(file->size() >= sizeof(Header), ModelError)
      << what << " is not a .r1 model (too short: " << file->size() << " bytes)";
  Header h;
  std::memcpy(&h, file->data(), sizeof(h));
  R1_CHECK(std::memcmp(h.magic, kMagic, 8) == 0, ModelError) << what << " is not a .r1 model (bad magic)";
  R1_CHECK(h.version >= kR1OldestFormatVersion && h.version <= kR1FormatVersion, ModelError)
      << what << " is a .r1 model of format version " << h.version << "; this build reads versions "
      << kR1OldestFormatVersion << " to " << kR1FormatVersion << " (re-convert the model)";
  R1_CHECK(h.file_size == file->size(), ModelError)
      << what << " is truncated or padded: header says " << h.file_size << " bytes, file has " << file->size();
  R1_CHECK(h.ir_offset == sizeof(Header) && h.ir_size <= h.file_size - h.ir_offset &&
               h.weights_offset >= h.ir_offset + h.ir_size && h.weights_offset % kAlign == 0 &&
               h.weights_size <= h.file_size - std::min<uint64_t>(h.weights_offset, h.file_size) &&
               h.weights_offset <= h.file_size,
           ModelError)
      << what << " is corrupt: section bounds are inconsistent";
  if (verify_checksum) {
    const bool mapped = file->mapped();
    auto intact = [h, mapped](const char* p, size_t n) {
      return n == h.file_size && loaded_file_checksum(h, p + sizeof(Header), n - sizeof(Header), mapped) == h.checksum;
    };
    const bool ok = intact(file->data(), file->size());
    const std::string why = file->changed();  // truncated while we hashed it: say that, not "corrupt"
    R1_CHECK(why.empty(), ModelError) << why;
    R1_CHECK(ok, ModelError) << what << " is corrupt: checksum mismatch";
    file->set_content_check(intact);
  }

  format::ByteReader r(file->data() + h.ir_offset, h.ir_size);
  LoadedModel out;
  out.graph = std::make_shared<Graph>();
  Graph& g = *out.graph;
  for (uint32_t i = 0, n = r.count(8); i < n; ++i) {
    std::string k = r.str();
    out.metadata[k] = r.str();
  }
  GraphSource src{what,
                  file->data() + h.weights_offset,
                  h.weights_size,
                  file,
                  file->mapped() ? MemoryKind::FileBacked : MemoryKind::Host,
                  0};
  read_graph(r, g, src, true);
  R1_CHECK(r.done(), ModelError) << what << " is corrupt: trailing bytes in the model section";
  finalize_graph(g);
  if (file->mapped()) add_backing_deep(g, file);
  return out;
}
}  // namespace r1

// A Buffer is a block of memory that some tensor data lives in, owned by whoever made it:
// a device allocator, a numpy array handed over without a copy, or a mapped .r1 file.
//
//   auto buf = HostBuffer::allocate(1024);            // 64-byte aligned, freed with the last owner
//   auto ext = std::make_shared<ExternalBuffer>(ptr, bytes, MemoryKind::Host, keepalive);
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace r1 {

enum class MemoryKind : uint8_t {
  Host = 0,        // ordinary pageable CPU memory
  PinnedHost = 1,  // page-locked host memory a GPU can DMA from
  Device = 2,      // accelerator memory
  FileBacked = 3,  // a read-only mapping of a file (mmap'd .r1 weights, NVMe tier)
};
const char* memory_kind_name(MemoryKind k);
// Whether the CPU may read memory of this kind (everything but accelerator memory).
inline bool host_accessible(MemoryKind k) { return k != MemoryKind::Device; }

// Lets the OS drop the resident pages wholly inside [p, p + len) of a read-only private file
// mapping; they fault back in from the file when read again. Only for such mappings: on written
// memory it would discard the writes.
void drop_file_pages(const void* p, size_t len);

class Buffer {
 public:
  virtual ~Buffer() = default;
  void* data() const { return data_; }
  size_t size() const { return size_; }
  MemoryKind kind() const { return kind_; }
  int device_index() const { return device_index_; }
  // False for memory the engine does not own (a caller's array, mapped weights): numpy views of
  // it are handed out read-only so nobody writes into a model's weights or a caller's input.
  virtual bool writable() const { return kind_ != MemoryKind::FileBacked; }
  // For a read-only file mapping: lets the OS drop the resident pages wholly inside
  // [offset, offset + len) (they fault back in from the file if read again), so weights the
  // compiler repacked stop counting in the process's memory. A no-op for every other kind.
  void drop_resident_pages(size_t offset, size_t len) const;

 protected:
  Buffer(void* data, size_t size, MemoryKind kind, int device_index = 0)
      : data_(data), size_(size), kind_(kind), device_index_(device_index) {}
  void* data_;
  size_t size_;
  MemoryKind kind_;
  int device_index_;
};

// 64-byte aligned host memory from the system allocator.
class HostBuffer final : public Buffer {
 public:
  static std::shared_ptr<HostBuffer> allocate(size_t bytes);
  ~HostBuffer() override;

 private:
  HostBuffer(void* p, size_t n) : Buffer(p, n, MemoryKind::Host) {}
};

// The elements of a string tensor: constructed std::string objects (a raw or arena buffer would hold
// unconstructed bytes). Tensor::empty makes one for DType::String.
class StringBuffer final : public Buffer {
 public:
  explicit StringBuffer(size_t count)
      : Buffer(nullptr, 0, MemoryKind::Host), strings_(std::make_unique<std::string[]>(count ? count : 1)) {
    data_ = strings_.get();
    size_ = count * sizeof(std::string);
  }

 private:
  std::unique_ptr<std::string[]> strings_;
};

// Memory owned by someone else; `keepalive` holds the owner (a numpy array, a file mapping) alive.
class ExternalBuffer final : public Buffer {
 public:
  ExternalBuffer(void* data, size_t size, MemoryKind kind, std::shared_ptr<void> keepalive)
      : Buffer(data, size, kind), keepalive_(std::move(keepalive)) {}
  bool writable() const override { return false; }

 private:
  std::shared_ptr<void> keepalive_;
};

}  // namespace r1

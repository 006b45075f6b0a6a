// Turns a SIGBUS on a guarded file mapping into a flag instead of a crash.
//
//   int slot = guard_mapping(addr, size);   // before anything reads the mapping (-1: every slot taken)
//   if (mapping_faulted(slot)) ...          // a read hit a page the file no longer has
//   unguard_mapping(slot);                  // before munmap
//
// Why: reading a page of a MAP_PRIVATE file mapping past the file's current end (another process
// truncated it: `cp` over the file does, before writing) raises SIGBUS, which kills the process. The
// handler installed here replaces a guarded mapping that faulted with zero pages, sets its flag and
// returns, so the read completes (with zeros) and the runtime, which asks MappedFile::changed() after
// every run, fails that run with an error that names the file. Faults anywhere else go to the handler
// that was installed before ours (Python's faulthandler, a debugger's), or to the default action.
#pragma once
#include <cstddef>

namespace r1::format {

int guard_mapping(const void* addr, size_t size);
void unguard_mapping(int slot);
bool mapping_faulted(int slot);

}  // namespace r1::format

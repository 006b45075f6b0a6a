#include "r1/format/mapping_guard.h"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace r1::format {
namespace {

// A fixed table of plain atomics: the signal handler may only read lock-free memory.
constexpr int kSlots = 512;
struct Slot {
  std::atomic<uintptr_t> begin{0}, end{0};
  std::atomic<bool> faulted{false};
};
Slot g_slots[kSlots];
struct sigaction g_previous{};
std::once_flag g_installed;

void forward(int sig, siginfo_t* info, void* context) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler == SIG_IGN) return;
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
    return;
  }
  // The default action: restore it and let the fault happen again (a real fault re-executes the
  // instruction; a sent signal is raised again).
  ::signal(sig, SIG_DFL);
  if (info == nullptr || info->si_code <= 0) ::raise(sig);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  // si_code > 0: the kernel raised it for a memory access (not kill/raise from someone).
  if (info != nullptr && info->si_code > 0) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    for (Slot& s : g_slots) {
      const uintptr_t b = s.begin.load(std::memory_order_acquire);
      const uintptr_t e = s.end.load(std::memory_order_acquire);
      if (b <= 1 || addr < b || addr >= e) continue;  // 0: free; 1: being claimed
      // mmap is a plain system call: safe here in practice (POSIX does not list it, Linux makes no
      // exception). Zero pages over the whole mapping: nothing in it is the loaded model any more.
      void* p = ::mmap(reinterpret_cast<void*>(b), e - b, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (p != MAP_FAILED) {
        s.faulted.store(true, std::memory_order_release);
        return;
      }
    }
  }
  forward(sig, info, context);
}

void install() {
  struct sigaction sa{};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, &g_previous);
}

}  // namespace

int guard_mapping(const void* addr, size_t size) {
  if (addr == nullptr || size == 0) return -1;
  std::call_once(g_installed, install);
  const auto b = reinterpret_cast<uintptr_t>(addr);
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t expected = 0;
    // Claim with begin = 1 (never a mapping address), then publish the range.
    if (g_slots[i].begin.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      g_slots[i].faulted.store(false, std::memory_order_relaxed);
      g_slots[i].end.store(b + size, std::memory_order_release);
      g_slots[i].begin.store(b, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

void unguard_mapping(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  g_slots[slot].end.store(0, std::memory_order_release);
  g_slots[slot].begin.store(0, std::memory_order_release);
}

bool mapping_faulted(int slot) {
  return slot >= 0 && slot < kSlots && g_slots[slot].faulted.load(std::memory_order_acquire);
}

}  // namespace r1::format

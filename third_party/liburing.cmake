# liburing (Debian's liburing-dev) for the NVMe tier's io_uring reads (cpp/r1/io/direct_reader.cc). Linked
# statically (liburing.a) so the wheel needs no liburing at run time; where it is absent the reader's pread
# thread pool does the same reads (R1_HAVE_LIBURING off), and a kernel that refuses io_uring (seccomp in some
# containers) falls back to that pool at run time.
find_path(R1_LIBURING_INCLUDE liburing.h)
find_library(R1_LIBURING_LIBRARY NAMES liburing.a uring)
if(R1_LIBURING_INCLUDE AND R1_LIBURING_LIBRARY)
  set(R1_HAVE_LIBURING ON)
  message(STATUS "liburing: ${R1_LIBURING_LIBRARY} (io_uring reads)")
else()
  set(R1_HAVE_LIBURING OFF)
  message(STATUS "liburing: not found (apt install liburing-dev): the O_DIRECT reads use a pread thread pool")
endif()

# r1_find_nvidia_wheel: the headers and library of an NVIDIA library shipped as a pip wheel (nvidia-cublas,
# nvidia-cusparselt-cu13...), for the vendor-library modules (_cublas, _cusparselt).
#
#   r1_find_nvidia_wheel(<header> <root override> <out prefix> <library globs relative to the root>...)
#
# Looks in <root override> when set, else in the wheels of Python_EXECUTABLE: the 13.x wheels put everything
# under site-packages/nvidia/cu13 (a namespace package). Sets <out prefix>_ROOT (the directory holding
# include/<header>), <out prefix>_REL (its lib dir relative to site-packages, for the installed module's
# RPATH), <out prefix>_LIB (the first library matching a glob, or "" when none) and <out prefix>_DIR (its
# directory). The wheels ship only versioned files (no lib*.so link): a module links the file by full path,
# which records its SONAME as the dependency.
function(r1_find_nvidia_wheel header root_override out)
  set(root "")
  set(rel "nvidia/cu13/lib")
  if(root_override)
    set(root "${root_override}")
  elseif(Python_EXECUTABLE)
    # prints "<root>;<root's lib relative to site-packages>"
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c [=[
import importlib.util, os, sys
header = sys.argv[1]
for name in ("nvidia.cu13", "nvidia.cublas", "nvidia.cusparselt"):
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    for p in (spec.submodule_search_locations or []) if spec else []:
        if os.path.isfile(os.path.join(p, "include", header)):
            site = os.path.dirname(os.path.dirname(p))
            sys.stdout.write(p + ";" + os.path.relpath(os.path.join(p, "lib"), site).replace(os.sep, "/"))
            sys.exit(0)
]=] "${header}"
      OUTPUT_VARIABLE found RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0 AND found)
      list(GET found 0 root)
      list(GET found 1 rel)
    endif()
  endif()
  set(lib "")
  if(root AND EXISTS "${root}/include/${header}")
    set(globs "")
    foreach(g IN LISTS ARGN)
      list(APPEND globs "${root}/${g}")
    endforeach()
    file(GLOB candidates ${globs})
    if(candidates)
      list(GET candidates 0 lib)
    endif()
  endif()
  set(dir "")
  if(lib)
    get_filename_component(dir "${lib}" DIRECTORY)
  endif()
  set(${out}_ROOT "${root}" PARENT_SCOPE)
  set(${out}_REL "${rel}" PARENT_SCOPE)
  set(${out}_LIB "${lib}" PARENT_SCOPE)
  set(${out}_DIR "${dir}" PARENT_SCOPE)
endfunction()

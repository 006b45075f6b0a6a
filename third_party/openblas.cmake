# Locates OpenBLAS from the scipy-openblas32 wheel (a build requirement). Its symbols carry a
# scipy_ prefix (scipy_cblas_sgemm), called through R1_CBLAS() in cpp/r1/cpu/gemm/blas.h. The shared
# library is copied into the wheel under deepseek_r1/_libs: the wheel's maintainers ask other
# projects not to depend on it at run time.
set(R1_HAVE_OPENBLAS OFF)
if(NOT R1_OPENBLAS STREQUAL "OFF")
  execute_process(
    COMMAND ${Python_EXECUTABLE} -c "import scipy_openblas32 as s; print(s.get_lib_dir()); print(s.get_include_dir())"
    OUTPUT_VARIABLE _r1_ob_out RESULT_VARIABLE _r1_ob_rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_r1_ob_rc EQUAL 0)
    string(REPLACE "\n" ";" _r1_ob_list "${_r1_ob_out}")
    list(GET _r1_ob_list 0 _r1_ob_lib)
    list(GET _r1_ob_list 1 _r1_ob_inc)
    find_library(R1_OPENBLAS_LIBRARY_FILE NAMES scipy_openblas libscipy_openblas.so PATHS ${_r1_ob_lib} NO_DEFAULT_PATH)
    if(R1_OPENBLAS_LIBRARY_FILE)
      add_library(r1_openblas SHARED IMPORTED GLOBAL)
      set_target_properties(r1_openblas PROPERTIES IMPORTED_LOCATION ${R1_OPENBLAS_LIBRARY_FILE}
                                                   INTERFACE_INCLUDE_DIRECTORIES ${_r1_ob_inc})
      set(R1_HAVE_OPENBLAS ON)
      message(STATUS "deepseek_r1: OpenBLAS from scipy-openblas32: ${R1_OPENBLAS_LIBRARY_FILE}")
    endif()
  endif()
  if(NOT R1_HAVE_OPENBLAS AND R1_OPENBLAS STREQUAL "ON")
    message(FATAL_ERROR "R1_OPENBLAS=ON but scipy-openblas32 was not found (pip install scipy-openblas32)")
  endif()
endif()
if(NOT R1_HAVE_OPENBLAS)
  message(STATUS "deepseek_r1: building without OpenBLAS; GEMM uses the built-in blocked kernel")
endif()

# Finds OpenSlide (Debian libopenslide-dev), which ships no CMake package, and defines the
# imported target OpenSlide::OpenSlide so that no absolute library path ends up in an exported
# link interface. The target carries the library only: the headers are in
# OpenSlide_INCLUDE_DIR, for the one source of spatialembed that includes them (an include
# directory on the target would reach every source of the library that links it).
find_path(OpenSlide_INCLUDE_DIR openslide.h PATH_SUFFIXES openslide)
find_library(OpenSlide_LIBRARY openslide)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenSlide REQUIRED_VARS OpenSlide_LIBRARY OpenSlide_INCLUDE_DIR)
if(OpenSlide_FOUND AND NOT TARGET OpenSlide::OpenSlide)
  add_library(OpenSlide::OpenSlide UNKNOWN IMPORTED)
  set_target_properties(OpenSlide::OpenSlide PROPERTIES IMPORTED_LOCATION "${OpenSlide_LIBRARY}")
endif()
mark_as_advanced(OpenSlide_INCLUDE_DIR OpenSlide_LIBRARY)
